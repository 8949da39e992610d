//! gRPC: a request and a response message type per `grpc` endpoint
//! (hidden in the generated `const _` block), and `mount_grpc`.
//!
//! The request is the arguments as the fields of `<Method>Request`,
//! numbered by position, or a lone `#[body]` argument; the response is the
//! return value. A `#[body]` or return value of type `T` travels as `T`'s
//! `GrpcPayload`: itself when it is a message, else field 1 of a message
//! named for the method. The generated types have unconditional impls, so
//! a type that cannot travel is reported once, at its span, not at every use.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Type};

use super::message;
use super::types::payload;
use crate::internals::ast::{Endpoint, Field, GrpcShape, Message, Service, Source};

/// `__KitRequest{index}`.
pub(super) fn request_ident(index: usize) -> Ident {
    format_ident!("__KitRequest{}", index)
}

/// `__KitResponse{index}`.
pub(super) fn response_ident(index: usize) -> Ident {
    format_ident!("__KitResponse{}", index)
}

/// The message types of every gRPC endpoint.
pub(super) fn messages(service: &Service) -> TokenStream {
    let mut out = TokenStream::new();
    for (index, e) in service.endpoints.iter().enumerate() {
        let Some(grpc) = &e.grpc else { continue };
        let request = request_ident(index);
        let request_name = format!("{}Request", grpc.method);
        out.extend(match grpc.shape {
            GrpcShape::Args => {
                let fields = e.wire_args().enumerate().map(|(i, a)| Field {
                    ident: a.ident.clone(),
                    name: a.name.clone(),
                    ty: a.ty.clone(),
                    tag: i as u32 + 1,
                    tag_span: a.ident.span(),
                });
                let model = Message {
                    ident: request.clone(),
                    proto_name: request_name,
                    docs: String::new(),
                    fields: fields.collect(),
                };
                let decls = model.fields.iter().map(|f| {
                    let (i, t) = (&f.ident, &f.ty);
                    quote!(#i: #t)
                });
                let impls = message::message_impl(&model);
                quote! {
                    #[allow(non_camel_case_types)]
                    struct #request { #(#decls),* }
                    #impls
                }
            }
            GrpcShape::Body => {
                let body = e.wire_args().next();
                match body {
                    Some(a) => payload_message(&request, &a.ty, &request_name, &a.name),
                    None => TokenStream::new(),
                }
            }
        });
        let response_name = format!("{}Response", grpc.method);
        out.extend(payload_message(
            &response_ident(index),
            &e.output.ok,
            &response_name,
            "value",
        ));
    }
    out
}

/// A message carrying one value of `ty` through its `GrpcPayload`.
fn payload_message(ident: &Ident, ty: &Type, name: &str, field: &str) -> TokenStream {
    let p = quote!(::kit::__private::proto);
    let checked = payload(ty);
    quote! {
        struct #ident(#ty);

        #[automatically_derived]
        impl #p::ProtoMessage for #ident {
            const NAME: &'static str = #name;

            fn describe(schema: &mut #p::Schema) {
                let _ = <#checked as #p::GrpcPayload>::register(schema, #name, #field);
            }

            fn proto_new() -> Self {
                #ident(<#checked as #p::GrpcPayload>::payload_default())
            }

            fn encode_fields(&self, buf: &mut impl #p::BufMut) {
                <#checked as #p::GrpcPayload>::payload_encode(&self.0, buf)
            }

            fn fields_len(&self) -> usize {
                <#checked as #p::GrpcPayload>::payload_len(&self.0)
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: #p::WireType,
                buf: &mut impl #p::Buf,
                depth: #p::Depth,
            ) -> ::core::result::Result<(), #p::DecodeError> {
                <#checked as #p::GrpcPayload>::payload_merge(&mut self.0, tag, wire_type, buf, depth)
            }
        }
    }
}

/// The body of `mount_grpc`.
pub(super) fn mount(service: &Service) -> TokenStream {
    let mounts = service
        .endpoints
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e, e.grpc.as_ref()?.shape)))
        .map(|(i, e, shape)| endpoint(i, e, shape));
    quote! {
        let _ = (&routes, &self);
        #(#mounts)*
    }
}

fn endpoint(index: usize, e: &Endpoint, shape: GrpcShape) -> TokenStream {
    let method = &e.ident;
    let (request, response) = (request_ident(index), response_ident(index));
    let wire: Vec<_> = e.wire_args().map(|a| &a.ident).collect();
    let unpack = match shape {
        GrpcShape::Args => quote!(let #request { #(#wire),* } = __req;),
        GrpcShape::Body => quote!(let #request(#(#wire)*) = __req;),
    };
    let context = e
        .args
        .iter()
        .filter(|a| a.source == Source::Context)
        .map(|a| {
            let i = &a.ident;
            quote!(let #i = ::kit::Context::current();)
        });
    let call_args: Vec<_> = e
        .args
        .iter()
        .map(|a| {
            let i = &a.ident;
            if a.source == Source::Context {
                quote!(&#i)
            } else {
                quote!(#i)
            }
        })
        .collect();
    let span = e.output.span;
    let outcome = if e.output.fallible {
        quote_spanned!(span=> ::kit::__private::outcome(__out))
    } else {
        quote!(::kit::__private::ok(__out))
    };
    // A request stream arrives as messages of the request type; the
    // handler takes their items.
    let unpack = match e.stream_arg() {
        Some(arg) => {
            let i = &arg.ident;
            quote!(let #i = __req.map_ok(|__m: #request| __m.0);)
        }
        None => unpack,
    };
    if e.output.stream {
        let item = if e.output.fallible {
            quote_spanned!(span=> ::kit::__private::outcome(__item))
        } else {
            quote!(::kit::__private::ok(__item))
        };
        let register = if e.stream_arg().is_some() {
            quote!(bidi_streaming::<#request, #response, _, _>)
        } else {
            quote!(server_streaming::<#request, #response, _, _>)
        };
        return quote! {
            {
                let __svc = ::std::sync::Arc::clone(&self);
                routes.#register(&__KIT_ENDPOINTS[#index], move |__req| {
                    let __svc = ::std::sync::Arc::clone(&__svc);
                    #unpack
                    #(#context)*
                    ::kit::__private::async_stream::stream! {
                        let __out = __svc.#method(#(#call_args),*).await;
                        let mut __out = ::std::pin::pin!(__out);
                        while let ::core::option::Option::Some(__item) = ::kit::__private::StreamExt::next(&mut __out).await {
                            yield #item.map(#response);
                        }
                    }
                });
            }
        };
    }
    let register = if e.stream_arg().is_some() {
        quote!(client_streaming::<#request, #response, _, _>)
    } else {
        quote!(unary::<#request, #response, _, _>)
    };
    quote! {
        {
            let __svc = ::std::sync::Arc::clone(&self);
            routes.#register(&__KIT_ENDPOINTS[#index], move |__req| {
                let __svc = ::std::sync::Arc::clone(&__svc);
                async move {
                    #unpack
                    #(#context)*
                    let __out = __svc.#method(#(#call_args),*).await;
                    #outcome.map(#response)
                }
            });
        }
    }
}
