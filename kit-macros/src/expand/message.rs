//! Protobuf messages and enums: `#[derive(kit::Message)]`, and the request
//! and response messages the gRPC expansion synthesizes for endpoints.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

/// A message to generate `ProtoMessage` for.
pub struct MessageModel {
    /// The Rust struct.
    pub ident: Ident,
    /// The protobuf message name.
    pub proto_name: String,
    pub doc: String,
    pub fields: Vec<MessageField>,
}

pub struct MessageField {
    pub ident: Ident,
    pub ty: Type,
    pub tag: u32,
}

/// The Rust shape of a field, which picks its protobuf cardinality.
enum Shape<'a> {
    Singular(&'a Type),
    Optional(&'a Type),
    Repeated(&'a Type),
    Map(&'a Type),
}

fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn is_u8(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.is_ident("u8"))
}

fn shape(ty: &Type) -> Shape<'_> {
    if let Some(inner) = generic_arg(ty, "Option") {
        return Shape::Optional(inner);
    }
    if let Some(inner) = generic_arg(ty, "Vec") {
        if !is_u8(inner) {
            return Shape::Repeated(inner);
        }
    }
    if let Type::Path(p) = ty {
        if p.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "HashMap" || s.ident == "BTreeMap")
        {
            return Shape::Map(ty);
        }
    }
    Shape::Singular(ty)
}

fn checked(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::FieldCheck>::Type)
}

fn checked_map(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::MapCheck>::Type)
}

/// `impl ProtoMessage` and `impl ProtoField` for a struct.
pub fn expand_message(m: &MessageModel) -> TokenStream {
    let ident = &m.ident;
    let name = &m.proto_name;
    let doc = &m.doc;
    let p = quote!(::kit::__private::proto);
    let mut describe = Vec::new();
    let mut new = Vec::new();
    let mut encode = Vec::new();
    let mut len = Vec::new();
    let mut merge = Vec::new();
    for f in &m.fields {
        let (fi, tag) = (&f.ident, f.tag);
        let fname = fi.to_string();
        let fname = fname.strip_prefix("r#").unwrap_or(&fname).to_string();
        let (module, elem, default) = match shape(&f.ty) {
            Shape::Singular(t) => {
                let c = checked(t);
                (
                    quote!(singular),
                    c.clone(),
                    quote!(<#c as #p::ProtoField>::proto_default()),
                )
            }
            Shape::Optional(t) => (
                quote!(optional),
                checked(t),
                quote!(::core::option::Option::None),
            ),
            Shape::Repeated(t) => (quote!(repeated), checked(t), quote!(::std::vec::Vec::new())),
            Shape::Map(t) => (
                quote!(map),
                checked_map(t),
                quote!(::core::default::Default::default()),
            ),
        };
        describe.push(quote! {{
            let (ty, label) = #p::field::#module::schema::<#elem>(schema);
            #p::schema::FieldSchema { name: ::std::string::String::from(#fname), number: #tag, ty, label }
        }});
        new.push(quote!(#fi: #default));
        encode.push(quote!(#p::field::#module::encode::<#elem>(#tag, &self.#fi, buf);));
        len.push(quote!(#p::field::#module::len::<#elem>(#tag, &self.#fi)));
        merge.push(quote!(#tag => #p::field::#module::merge::<#elem>(wire_type, &mut self.#fi, buf, depth),));
    }
    quote! {
        impl #p::ProtoMessage for #ident {
            const NAME: &'static str = #name;

            fn describe(schema: &mut #p::Schema) {
                let fields = ::std::vec![#(#describe),*];
                schema.add_message(#name, #doc, fields);
            }

            fn proto_new() -> Self {
                #ident { #(#new),* }
            }

            fn encode_fields(&self, buf: &mut impl ::kit::__private::proto::BufMut) {
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
                buf: &mut impl ::kit::__private::proto::Buf,
                depth: #p::Depth,
            ) -> ::core::result::Result<(), #p::DecodeError> {
                let _ = depth;
                match tag {
                    #(#merge)*
                    _ => #p::skip_unknown(tag, wire_type, buf),
                }
            }
        }

        ::kit::__private::proto_message_field!(#ident);
    }
}

/// An enum to generate `ProtoField` for.
pub struct EnumModel {
    pub ident: Ident,
    pub proto_name: String,
    pub doc: String,
    /// Variant ident, protobuf value name, number.
    pub variants: Vec<(Ident, String, i32)>,
}

pub fn expand_enum(e: &EnumModel) -> TokenStream {
    let ident = &e.ident;
    let name = &e.proto_name;
    let doc = &e.doc;
    let p = quote!(::kit::__private::proto);
    let Some((first, _, _)) = e.variants.iter().find(|(_, _, n)| *n == 0) else {
        return syn::Error::new(
            Span::call_site(),
            "a protobuf enum needs a variant numbered 0 (its default)",
        )
        .to_compile_error();
    };
    let values = e.variants.iter().map(|(_, n, v)| quote!((#n, #v)));
    let to_number = e.variants.iter().map(|(v, _, n)| quote!(#ident::#v => #n));
    let from_number = e.variants.iter().map(|(v, _, n)| quote!(#n => #ident::#v));
    quote! {
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

            fn encode_value(&self, buf: &mut impl ::kit::__private::proto::BufMut) {
                #p::field::enumeration::encode(self.__kit_proto_number(), buf)
            }

            fn value_len(&self) -> usize {
                #p::field::enumeration::len(self.__kit_proto_number())
            }

            fn merge_value(
                &mut self,
                buf: &mut impl ::kit::__private::proto::Buf,
                _depth: #p::Depth,
            ) -> ::core::result::Result<(), #p::DecodeError> {
                // Numbers this version does not know read as the default.
                *self = match #p::field::enumeration::decode(buf)? {
                    #(#from_number,)*
                    _ => #ident::#first,
                };
                ::core::result::Result::Ok(())
            }
        }

        impl #ident {
            /// The protobuf number of this value.
            #[doc(hidden)]
            pub fn __kit_proto_number(&self) -> i32 {
                match self { #(#to_number),* }
            }
        }
    }
}
