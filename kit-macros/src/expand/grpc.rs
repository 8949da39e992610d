//! gRPC: the request and response messages synthesized for each `grpc`
//! endpoint, and the body of `mount_grpc`.
//!
//! Arguments become the fields of `<Method>Request`, numbered by position
//! (`&Context` does not count); a lone `#[body]` argument whose type is a
//! message is the request itself. The return value is the `value` field
//! (number 1) of `<Method>Response`, unless it is a message itself.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::message::{expand_message, MessageField, MessageModel};
use crate::model::{Endpoint, Service, Source};

/// The Rust types that are protobuf fields, not messages: a return or body
/// of one of these is wrapped in a synthesized message.
const NOT_MESSAGES: &[&str] = &[
    "bool",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "f32",
    "f64",
    "char",
    "String",
    "str",
    "Vec",
    "Option",
    "HashMap",
    "BTreeMap",
    "Bytes",
    "Duration",
    "SystemTime",
    "Sint32",
    "Sint64",
    "Fixed32",
    "Fixed64",
    "Sfixed32",
    "Sfixed64",
    "Box",
    "Arc",
    "Value",
];

/// Whether `ty` is (by its shape) a user message used directly on the wire.
pub fn is_message(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| !NOT_MESSAGES.contains(&s.ident.to_string().as_str())),
        _ => false,
    }
}

/// `<T as MessageCheck>::Type`, spanned at the user's type: the one place a
/// type used as a whole message but not deriving `kit::Message` is reported.
fn message_check(ty: &Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::proto::MessageCheck>::Type)
}

/// The request and response message types of a gRPC endpoint.
pub struct GrpcTypes {
    pub request: TokenStream,
    /// The synthesized request struct, if any.
    pub request_struct: Option<Ident>,
    pub response: TokenStream,
    /// Whether the response wraps the return value in a `value` field.
    pub wrapped: bool,
    pub unit: bool,
}

/// Args that travel in the gRPC request.
pub fn wire_args(e: &Endpoint) -> impl Iterator<Item = &crate::model::Arg> {
    e.args.iter().filter(|a| a.source != Source::Context)
}

pub fn types(service: &Service, e: &Endpoint) -> Option<GrpcTypes> {
    let method = e.grpc.as_ref()?;
    let base = format!("__Kit{}{}", service.type_ident, method);
    let args: Vec<_> = wire_args(e).collect();
    let (request, request_struct) = match args.as_slice() {
        [only] if only.source == Source::Body && is_message(&only.ty) => {
            (message_check(&only.ty), None)
        }
        _ => {
            let ident = format_ident!("{}Request", base);
            (quote!(#ident), Some(ident))
        }
    };
    let ok = &e.output.ok;
    let unit = matches!(ok, Type::Tuple(t) if t.elems.is_empty());
    let (response, wrapped) = if !unit && is_message(ok) {
        (message_check(ok), false)
    } else {
        let ident = format_ident!("{}Response", base);
        (quote!(#ident), !unit)
    };
    Some(GrpcTypes {
        request,
        request_struct,
        response,
        wrapped,
        unit,
    })
}

/// The synthesized messages (module-level items) and the body of `mount_grpc`.
pub fn expand(service: &Service) -> (TokenStream, TokenStream) {
    let mut items = Vec::new();
    let mut mounts = Vec::new();
    for (index, e) in service.endpoints.iter().enumerate() {
        let Some(t) = types(service, e) else { continue };
        let method = e.grpc.clone().unwrap_or_default();
        let doc = format!("gRPC request of `{}`.", e.ident);
        if let Some(ident) = &t.request_struct {
            let fields: Vec<_> = wire_args(e)
                .enumerate()
                .map(|(i, a)| MessageField {
                    ident: a.ident.clone(),
                    ty: a.ty.clone(),
                    tag: i as u32 + 1,
                })
                .collect();
            let decls = fields.iter().map(|f| {
                let (i, ty) = (&f.ident, &f.ty);
                quote!(#i: #ty)
            });
            items.push(quote! {
                #[doc = #doc]
                #[doc(hidden)]
                #[allow(non_camel_case_types)]
                struct #ident { #(#decls),* }
            });
            items.push(expand_message(&MessageModel {
                ident: ident.clone(),
                proto_name: format!("{method}Request"),
                doc: String::new(),
                fields,
            }));
        }
        if t.wrapped || t.unit {
            let ident = format_ident!("__Kit{}{}Response", service.type_ident, method);
            let ok = &e.output.ok;
            let fields = if t.unit {
                vec![]
            } else {
                vec![MessageField {
                    ident: format_ident!("value"),
                    ty: ok.clone(),
                    tag: 1,
                }]
            };
            let decls = fields.iter().map(|f| {
                let (i, ty) = (&f.ident, &f.ty);
                quote!(#i: #ty)
            });
            items.push(quote! {
                #[doc(hidden)]
                #[allow(non_camel_case_types)]
                struct #ident { #(#decls),* }
            });
            items.push(expand_message(&MessageModel {
                ident,
                proto_name: format!("{method}Response"),
                doc: String::new(),
                fields,
            }));
        }
        mounts.push(mount(index, e, &t));
    }
    let body = quote! {
        let endpoints = <Self as ::kit::Service>::DESCRIPTOR.endpoints;
        let _ = (&endpoints, &routes, &self);
        #(#mounts)*
    };
    (quote!(#(#items)*), body)
}

fn mount(index: usize, e: &Endpoint, t: &GrpcTypes) -> TokenStream {
    let method = &e.ident;
    let (request, response) = (&t.request, &t.response);
    let unpack = match &t.request_struct {
        Some(ident) => {
            let names = wire_args(e).map(|a| &a.ident);
            quote!(let #ident { #(#names),* } = __req;)
        }
        None => {
            let name = wire_args(e).map(|a| &a.ident);
            quote!(#(let #name = __req;)*)
        }
    };
    let context = e
        .args
        .iter()
        .filter(|a| a.source == Source::Context)
        .map(|a| {
            let i = &a.ident;
            quote!(let #i = ::kit::Context::current();)
        });
    let call_args = e.args.iter().map(|a| {
        let i = &a.ident;
        if a.source == Source::Context {
            quote!(&#i)
        } else {
            quote!(#i)
        }
    });
    let wrap = if t.unit {
        quote!(|()| #response {})
    } else if t.wrapped {
        quote!(|value| #response { value })
    } else {
        quote!(|value| value)
    };
    let result = if e.output.fallible {
        quote! {
            match __out {
                ::core::result::Result::Ok(v) => ::core::result::Result::Ok((#wrap)(v)),
                ::core::result::Result::Err(e) => ::core::result::Result::Err(::core::convert::Into::<::kit::Error>::into(e)),
            }
        }
    } else {
        quote!(::core::result::Result::Ok((#wrap)(__out)))
    };
    quote! {
        {
            let __svc = ::std::sync::Arc::clone(&self);
            routes.unary::<#request, #response, _, _>(&endpoints[#index], move |__req: #request| {
                let __svc = ::std::sync::Arc::clone(&__svc);
                async move {
                    #unpack
                    #(#context)*
                    let __out = __svc.#method(#(#call_args),*).await;
                    let __res: ::core::result::Result<#response, ::kit::Error> = #result;
                    __res
                }
            });
        }
    }
}
