//! `mount_http`: one handler per HTTP endpoint. A handler only decodes the
//! arguments, calls the method and encodes the result; everything else is
//! the runtime's server stack.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::types::{is_unit, url, wire};
use crate::internals::ast::{Endpoint, Service, Source};

/// The body of `mount_http`.
pub(super) fn mount(service: &Service) -> TokenStream {
    let mounts = service
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| e.http.is_some())
        .map(|(i, e)| endpoint(i, e));
    quote! {
        let _ = (&routes, &self);
        #(#mounts)*
    }
}

fn endpoint(index: usize, e: &Endpoint) -> TokenStream {
    let method = &e.ident;
    let names: Vec<&String> = e
        .args
        .iter()
        .filter(|a| a.source == Source::BodyField)
        .map(|a| &a.name)
        .collect();
    let mut decode = Vec::new();
    if !names.is_empty() {
        decode.push(quote!(let __fields = __req.body_fields(&[#(#names),*]).await?;));
    }
    let mut call_args = Vec::new();
    let mut checks = Vec::new();
    let mut field_index = 0usize;
    for arg in &e.args {
        let ident = &arg.ident;
        let name = &arg.name;
        let ty = &arg.ty;
        decode.push(match arg.source {
            Source::Path => {
                let codec = url(ty);
                checks.push(quote!(routes.url_arg(&__KIT_ENDPOINTS[#index], #name, #codec, true);));
                quote!(let #ident: #ty = __req.path(#name, #codec)?;)
            }
            Source::Query { .. } => {
                let codec = url(ty);
                checks
                    .push(quote!(routes.url_arg(&__KIT_ENDPOINTS[#index], #name, #codec, false);));
                quote!(let #ident: #ty = __req.query(#name, #codec)?;)
            }
            Source::Body => {
                let codec = wire(ty);
                quote!(let #ident: #ty = __req.json_with(#codec).await?;)
            }
            Source::BodyField => {
                let codec = wire(ty);
                let i = field_index;
                field_index += 1;
                quote!(let #ident: #ty = __fields.field(#i, #codec)?;)
            }
            Source::Context => quote!(let #ident = ::kit::Context::current();),
            // Refused for HTTP routes when parsing.
            Source::Stream => quote!(),
        });
        call_args.push(match arg.source {
            Source::Context => quote!(&#ident),
            _ => quote!(#ident),
        });
    }
    let reads_body = e
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Body | Source::BodyField));
    let req = if reads_body {
        quote!(mut __req)
    } else {
        quote!(__req)
    };
    let codec = wire(&e.output.ok);
    let span = e.output.span;
    // What the handler does once the arguments are decoded.
    let answer = if e.output.stream {
        let item = if e.output.fallible {
            quote_spanned!(span=> ::kit::__private::outcome(__item))
        } else {
            quote!(::kit::__private::ok(__item))
        };
        quote! {
            let __stream = ::kit::__private::async_stream::stream! {
                let __out = __svc.#method(#(#call_args),*).await;
                let mut __out = ::std::pin::pin!(__out);
                while let ::core::option::Option::Some(__item) = ::kit::__private::StreamExt::next(&mut __out).await {
                    yield #item;
                }
            };
            ::kit::__private::respond_stream(&__req, #codec, __stream)
        }
    } else {
        // A wrong error type is reported once, at the return type, by the
        // same `outcome` call the gRPC handler makes.
        let unwrap = if e.output.fallible {
            let outcome = quote_spanned!(span=> ::kit::__private::outcome(__out));
            quote!(let __out = #outcome?;)
        } else {
            quote!()
        };
        let reply = if is_unit(&e.output.ok) {
            quote!({
                let () = __out;
                ::kit::__private::respond_empty()
            })
        } else {
            quote!(::kit::__private::respond(#codec, &__out))
        };
        quote! {
            let __out = __svc.#method(#(#call_args),*).await;
            #unwrap
            #reply
        }
    };
    quote! {
        {
            #(#checks)*
            let __svc = ::std::sync::Arc::clone(&self);
            routes.endpoint(&__KIT_ENDPOINTS[#index], move |#req: ::kit::__private::HttpRequest| {
                let __svc = ::std::sync::Arc::clone(&__svc);
                async move {
                    #(#decode)*
                    #answer
                }
            });
        }
    }
}
