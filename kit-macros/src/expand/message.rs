//! `#[derive(kit::Message)]`: a struct becomes a protobuf message whose
//! fields encode through `FieldValue` (the compiler picks singular,
//! optional, repeated or map from each field's type); a fieldless enum
//! becomes a protobuf enum.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::types::field;
use crate::internals::ast::{Enum, Message, Newtype, Oneof, VariantKind};

/// A struct variant field's type, checked like a message field's.
fn field_ty(ty: &syn::Type) -> TokenStream {
    field(ty)
}

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

/// `ProtoField` (transparent: the field's own type and encoding) and
/// `GrpcPayload` for a newtype `struct Id(T)`.
pub(super) fn newtype(n: &Newtype) -> TokenStream {
    let ident = &n.ident;
    let p = quote!(::kit::__private::proto);
    let inner = &n.inner;
    let checked = quote_spanned!(inner.span()=> <#inner as #p::ProtoField>);
    // `Vec<u8>` is bytes, so a newtype of `u8` cannot repeat.
    let repeatable = if matches!(inner, syn::Type::Path(t) if t.path.is_ident("u8")) {
        quote!()
    } else {
        quote!(#[automatically_derived] impl #p::Repeatable for #ident {})
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::ProtoField for #ident {
                const WIRE_TYPE: #p::WireType = #checked::WIRE_TYPE;
                const PACKED: bool = #checked::PACKED;

                fn proto_type(schema: &mut #p::Schema) -> #p::FieldType {
                    #checked::proto_type(schema)
                }

                fn proto_default() -> Self {
                    #ident(#checked::proto_default())
                }

                fn is_proto_default(&self) -> bool {
                    #checked::is_proto_default(&self.0)
                }

                fn encode_value(&self, buf: &mut impl #p::BufMut) {
                    #checked::encode_value(&self.0, buf)
                }

                fn value_len(&self) -> usize {
                    #checked::value_len(&self.0)
                }

                fn merge_value(
                    &mut self,
                    buf: &mut impl #p::Buf,
                    depth: #p::Depth,
                ) -> ::core::result::Result<(), #p::DecodeError> {
                    #checked::merge_value(&mut self.0, buf, depth)
                }
            }

            #repeatable

            #p::grpc_payload_wrapped!(#ident);
        };
    }
}

/// `ProtoMessage`, `ProtoField` and `GrpcPayload` for an enum with data: a
/// message holding one `oneof`.
pub(super) fn oneof(o: &Oneof) -> TokenStream {
    let ident = &o.ident;
    let p = quote!(::kit::__private::proto);
    let name = &o.proto_name;
    let doc = &o.docs;
    let oneof_name = "value";
    let mut describe = Vec::new();
    let mut encode = Vec::new();
    let mut len = Vec::new();
    let mut merge = Vec::new();
    for v in &o.variants {
        let (vi, tag, field) = (&v.ident, v.tag, &v.field);
        let message = format!("{}{}", o.proto_name, v.ident);
        match &v.kind {
            VariantKind::Unit => {
                describe.push(quote! {{
                    schema.add_message(#message, "", ::std::vec::Vec::new());
                    let ty = #p::FieldType::Message(schema.full_name(#message));
                    #p::FieldSchema::new(#field, #tag, ty, #p::Label::Singular).in_oneof(#oneof_name)
                }});
                encode.push(quote!(#ident::#vi => #p::oneof::encode_message_header(#tag, 0, buf),));
                len.push(quote!(#ident::#vi => #p::oneof::message_len(#tag, 0),));
                merge.push(quote! {
                    #tag => {
                        *self = #ident::#vi;
                        #p::oneof::merge_message(wire_type, buf, depth, |tag, wire_type, buf, _| {
                            #p::skip_unknown(tag, wire_type, buf)
                        })
                    }
                });
            }
            VariantKind::Newtype(ty) => {
                let checked = quote_spanned!(ty.span()=> <#ty as #p::ProtoField>);
                describe.push(quote! {{
                    let ty = #checked::proto_type(schema);
                    #p::FieldSchema::new(#field, #tag, ty, #p::Label::Singular).in_oneof(#oneof_name)
                }});
                encode
                    .push(quote!(#ident::#vi(value) => #p::oneof::encode_value(#tag, value, buf),));
                len.push(quote!(#ident::#vi(value) => #p::oneof::value_len(#tag, value),));
                merge.push(quote! {
                    #tag => {
                        if !::core::matches!(self, #ident::#vi(..)) {
                            *self = #ident::#vi(#checked::proto_default());
                        }
                        match self {
                            #ident::#vi(value) => #p::oneof::merge_value(wire_type, value, buf, depth),
                            _ => ::core::result::Result::Ok(()),
                        }
                    }
                });
            }
            VariantKind::Struct(fields) => {
                let names: Vec<_> = fields.iter().map(|f| &f.ident).collect();
                let field_describe = fields.iter().map(|f| {
                    let (ty, fname, ftag) = (field_ty(&f.ty), &f.name, f.tag);
                    quote! {{
                        let (ty, label) = <#ty as #p::FieldValue>::field_schema(schema);
                        #p::FieldSchema::new(#fname, #ftag, ty, label)
                    }}
                });
                describe.push(quote! {{
                    let fields = ::std::vec![#(#field_describe),*];
                    schema.add_message(#message, "", fields);
                    let ty = #p::FieldType::Message(schema.full_name(#message));
                    #p::FieldSchema::new(#field, #tag, ty, #p::Label::Singular).in_oneof(#oneof_name)
                }});
                let field_len: Vec<_> = fields
                    .iter()
                    .map(|f| {
                        let (fi, ty, ftag) = (&f.ident, field_ty(&f.ty), f.tag);
                        quote!(<#ty as #p::FieldValue>::field_len(#fi, #ftag))
                    })
                    .collect();
                let field_encode = fields.iter().map(|f| {
                    let (fi, ty, ftag) = (&f.ident, field_ty(&f.ty), f.tag);
                    quote!(<#ty as #p::FieldValue>::field_encode(#fi, #ftag, buf);)
                });
                let field_merge = fields.iter().map(|f| {
                    let (fi, ty, ftag) = (&f.ident, field_ty(&f.ty), f.tag);
                    quote!(#ftag => <#ty as #p::FieldValue>::field_merge(#fi, wire_type, buf, depth),)
                });
                let defaults = fields.iter().map(|f| {
                    let (fi, ty) = (&f.ident, field_ty(&f.ty));
                    quote!(#fi: <#ty as #p::FieldValue>::field_default())
                });
                encode.push(quote! {
                    #ident::#vi { #(#names),* } => {
                        let len = 0 #(+ #field_len)*;
                        #p::oneof::encode_message_header(#tag, len, buf);
                        #(#field_encode)*
                    }
                });
                len.push(quote! {
                    #ident::#vi { #(#names),* } => #p::oneof::message_len(#tag, 0 #(+ #field_len)*),
                });
                merge.push(quote! {
                    #tag => {
                        if !::core::matches!(self, #ident::#vi { .. }) {
                            *self = #ident::#vi { #(#defaults),* };
                        }
                        match self {
                            #ident::#vi { #(#names),* } => {
                                #p::oneof::merge_message(wire_type, buf, depth, |tag, wire_type, buf, depth| {
                                    let _ = depth;
                                    match tag {
                                        #(#field_merge)*
                                        _ => #p::skip_unknown(tag, wire_type, buf),
                                    }
                                })
                            }
                            _ => ::core::result::Result::Ok(()),
                        }
                    }
                });
            }
        }
    }
    let first = o.variants.first().map(|v| {
        let vi = &v.ident;
        match &v.kind {
            VariantKind::Unit => quote!(#ident::#vi),
            VariantKind::Newtype(ty) => {
                let checked = quote_spanned!(ty.span()=> <#ty as #p::ProtoField>);
                quote!(#ident::#vi(#checked::proto_default()))
            }
            VariantKind::Struct(fields) => {
                let defaults = fields.iter().map(|f| {
                    let (fi, ty) = (&f.ident, field_ty(&f.ty));
                    quote!(#fi: <#ty as #p::FieldValue>::field_default())
                });
                quote!(#ident::#vi { #(#defaults),* })
            }
        }
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::ProtoMessage for #ident {
                const NAME: &'static str = #name;

                fn describe(schema: &mut #p::Schema) {
                    let fields = ::std::vec![#(#describe),*];
                    schema.add_message(#name, #doc, fields);
                }

                /// The first variant, at its defaults: what a message with
                /// no variant set reads as.
                fn proto_new() -> Self {
                    #first
                }

                fn encode_fields(&self, buf: &mut impl #p::BufMut) {
                    match self {
                        #(#encode)*
                    }
                }

                fn fields_len(&self) -> usize {
                    match self {
                        #(#len)*
                    }
                }

                fn merge_field(
                    &mut self,
                    tag: u32,
                    wire_type: #p::WireType,
                    buf: &mut impl #p::Buf,
                    depth: #p::Depth,
                ) -> ::core::result::Result<(), #p::DecodeError> {
                    match tag {
                        #(#merge)*
                        _ => #p::skip_unknown(tag, wire_type, buf),
                    }
                }
            }

            #p::message_field!(#ident);
            #p::grpc_payload_message!(#ident);
        };
    }
}
