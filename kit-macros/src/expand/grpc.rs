//! `mount_grpc`: one unary method per `grpc` endpoint. The request message
//! is the arguments (or the lone `#[body]`), the response the return value
//! as a `GrpcPayload`; the runtime does the rest.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::{grpc_request, payload};
use crate::internals::ast::{Endpoint, GrpcShape, Service, Source};

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
    let request = grpc_request(e, shape);
    let response = payload(&e.output.ok);
    let wire: Vec<_> = e.wire_args().map(|a| &a.ident).collect();
    let unpack = match shape {
        GrpcShape::Args => quote!(let ::kit::__private::proto::Args((#(#wire,)*)) = __req;),
        GrpcShape::Body => {
            quote!(let #(#wire)* = ::kit::__private::proto::GrpcPayload::from_message(__req);)
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
    let outcome = if e.output.fallible {
        quote!(::kit::__private::outcome(__out))
    } else {
        quote!(::kit::__private::ok(__out))
    };
    quote! {
        {
            let __svc = ::std::sync::Arc::clone(&self);
            routes.unary::<#request, #response, _, _>(&__KIT_ENDPOINTS[#index], move |__req: #request| {
                let __svc = ::std::sync::Arc::clone(&__svc);
                async move {
                    #unpack
                    #(#context)*
                    let __out = __svc.#method(#(#call_args),*).await;
                    #outcome
                }
            });
        }
    }
}
