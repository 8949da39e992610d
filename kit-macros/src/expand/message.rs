//! `#[derive(kit::Message)]`: a struct becomes a protobuf message whose
//! fields encode through `FieldValue` (the compiler picks singular,
//! optional, repeated or map from each field's type); a fieldless enum
//! becomes a protobuf enum.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::field;
use crate::internals::ast::{Enum, Message};

/// `ProtoMessage`, `ProtoField` and `GrpcPayload` for a struct.
pub(super) fn message(m: &Message) -> TokenStream {
    let ident = &m.ident;
    let p = quote!(::kit::__private::proto);
    let message = message_impl(m);
    quote! {
        const _: () = {
            #message
            #p::message_field!(#ident);
            #p::grpc_payload_message!(#ident);
        };
    }
}

/// `ProtoMessage` for a struct whose fields are `FieldValue`s.
pub(super) fn message_impl(m: &Message) -> TokenStream {
    let ident = &m.ident;
    let name = &m.proto_name;
    let doc = &m.docs;
    let p = quote!(::kit::__private::proto);
    let mut describe = Vec::new();
    let mut new = Vec::new();
    let mut encode = Vec::new();
    let mut len = Vec::new();
    let mut merge = Vec::new();
    for f in &m.fields {
        let (fi, tag, fname) = (&f.ident, f.tag, &f.name);
        let ty = field(&f.ty);
        describe.push(quote! {{
            let (ty, label) = <#ty as #p::FieldValue>::field_schema(schema);
            #p::FieldSchema::new(#fname, #tag, ty, label)
        }});
        new.push(quote!(#fi: <#ty as #p::FieldValue>::field_default()));
        encode.push(quote!(<#ty as #p::FieldValue>::field_encode(&self.#fi, #tag, buf);));
        len.push(quote!(<#ty as #p::FieldValue>::field_len(&self.#fi, #tag)));
        merge.push(quote!(#tag => <#ty as #p::FieldValue>::field_merge(&mut self.#fi, wire_type, buf, depth),));
    }
    quote! {
        #[automatically_derived]
        impl #p::ProtoMessage for #ident {
            const NAME: &'static str = #name;

            fn describe(schema: &mut #p::Schema) {
                let fields = ::std::vec![#(#describe),*];
                schema.add_message(#name, #doc, fields);
            }

            fn proto_new() -> Self {
                #ident { #(#new),* }
            }

            fn encode_fields(&self, buf: &mut impl #p::BufMut) {
                let _ = &buf;
                #(#encode)*
            }

            fn fields_len(&self) -> usize {
                0 #(+ #len)*
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: #p::WireType,
                buf: &mut impl #p::Buf,
                depth: #p::Depth,
            ) -> ::core::result::Result<(), #p::DecodeError> {
                let _ = depth;
                match tag {
                    #(#merge)*
                    _ => #p::skip_unknown(tag, wire_type, buf),
                }
            }
        }
    }
}

/// `ProtoField` and `GrpcPayload` for a fieldless enum.
pub(super) fn enumeration(e: &Enum) -> TokenStream {
    let ident = &e.ident;
    let name = &e.proto_name;
    let doc = &e.docs;
    let p = quote!(::kit::__private::proto);
    // `check::enumeration` guarantees a variant numbered 0.
    let Some(first) = e.variants.iter().find(|v| v.number == 0).map(|v| &v.ident) else {
        return TokenStream::new();
    };
    let values = e.variants.iter().map(|v| {
        let (n, num) = (&v.proto_name, v.number);
        quote!((#n, #num))
    });
    let to_number = e.variants.iter().map(|v| {
        let (vi, num) = (&v.ident, v.number);
        quote!(#ident::#vi => #num)
    });
    let from_number = e.variants.iter().map(|v| {
        let (vi, num) = (&v.ident, v.number);
        quote!(#num => #ident::#vi)
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::ProtoField for #ident {
                const WIRE_TYPE: #p::WireType = #p::WireType::Varint;
                const PACKED: bool = true;

                fn proto_type(schema: &mut #p::Schema) -> #p::FieldType {
                    schema.add_enum(#name, #doc, &[#(#values),*])
                }

                fn proto_default() -> Self {
                    #ident::#first
                }

                fn is_proto_default(&self) -> bool {
                    ::core::matches!(self, #ident::#first)
                }

                fn encode_value(&self, buf: &mut impl #p::BufMut) {
                    #p::enumeration::encode(number(self), buf)
                }

                fn value_len(&self) -> usize {
                    #p::enumeration::len(number(self))
                }

                fn merge_value(
                    &mut self,
                    buf: &mut impl #p::Buf,
                    _depth: #p::Depth,
                ) -> ::core::result::Result<(), #p::DecodeError> {
                    // Numbers this version does not know read as the default.
                    *self = match #p::enumeration::decode(buf)? {
                        #(#from_number,)*
                        _ => #ident::#first,
                    };
                    ::core::result::Result::Ok(())
                }
            }

            /// The protobuf number of a value.
            fn number(value: &#ident) -> i32 {
                match value { #(#to_number),* }
            }

            #[automatically_derived]
            impl #p::Repeatable for #ident {}

            #p::grpc_payload_wrapped!(#ident);
        };
    }
}
