//! `mount_http`: one handler per HTTP endpoint. A handler only decodes the
//! arguments, calls the method and encodes the result; everything else is
//! the runtime's server stack.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::{optional_url_param, url_param, wire};
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
    let mut field_index = 0usize;
    for arg in &e.args {
        let ident = &arg.ident;
        let name = &arg.name;
        let ty = &arg.ty;
        decode.push(match arg.source {
            Source::Path => {
                let checked = url_param(ty);
                quote!(let #ident: #checked = __req.path::<#checked>(#name)?;)
            }
            Source::Query { optional: true } => {
                let checked = optional_url_param(ty);
                quote!(let #ident: ::core::option::Option<#checked> = __req.query_opt::<#checked>(#name)?;)
            }
            Source::Query { optional: false } => {
                let checked = url_param(ty);
                quote!(let #ident: #checked = __req.query::<#checked>(#name)?;)
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
        });
        call_args.push(match arg.source {
            Source::Context => quote!(&#ident),
            _ => quote!(#ident),
        });
    }
    let codec = wire(&e.output.ok);
    let reply = if e.output.fallible {
        quote!(::kit::__private::reply(#codec, __out))
    } else {
        quote!(::kit::__private::respond(#codec, &__out))
    };
    let reads_body = e
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Body | Source::BodyField));
    let req = if reads_body {
        quote!(mut __req)
    } else {
        quote!(__req)
    };
    quote! {
        {
            let __svc = ::std::sync::Arc::clone(&self);
            routes.endpoint(&__KIT_ENDPOINTS[#index], move |#req: ::kit::__private::HttpRequest| {
                let __svc = ::std::sync::Arc::clone(&__svc);
                async move {
                    #(#decode)*
                    let __out = __svc.#method(#(#call_args),*).await;
                    #reply
                }
            });
        }
    }
}
