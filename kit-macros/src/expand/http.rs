//! The server side over HTTP: `impl kit::Service`, whose `mount_http`
//! registers one handler per endpoint. Each handler only decodes the
//! arguments, calls the method and encodes the result; everything else is
//! the runtime's server stack.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Endpoint, Service, Source};
use crate::parse::option_inner;

/// The body of `mount_http`.
pub fn mount_body(service: &Service) -> TokenStream {
    let mounts = service
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| e.route.is_some())
        .map(|(i, e)| mount(i, e));
    quote! {
        let endpoints = <Self as ::kit::Service>::DESCRIPTOR.endpoints;
        let _ = (&endpoints, &routes, &self);
        #(#mounts)*
    }
}

/// `wire::<T>()`, spanned at the user's type: the one place where a type
/// that cannot cross the wire is reported.
pub fn wire(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> ::kit::__private::wire::<#ty>())
}

/// `<T as UrlParam>::Type`, spanned at the user's type.
pub fn url_param(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::kit::__private::UrlParam>::Type)
}

/// The names of the arguments that are fields of the JSON body.
pub fn body_field_names(e: &Endpoint) -> Vec<String> {
    e.args
        .iter()
        .filter(|a| a.source == Source::BodyField)
        .map(|a| a.ident.to_string())
        .collect()
}

fn mount(index: usize, e: &Endpoint) -> TokenStream {
    let method = &e.ident;
    let names = body_field_names(e);
    let mut decode = Vec::new();
    if !names.is_empty() {
        decode.push(quote!(let __fields = __req.body_fields(&[#(#names),*]).await?;));
    }
    let mut call_args = Vec::new();
    let mut field_index = 0usize;
    for arg in &e.args {
        let ident = &arg.ident;
        let name = ident.to_string();
        let ty = &arg.ty;
        decode.push(match arg.source {
            Source::Path => {
                let checked = url_param(ty);
                quote!(let #ident: #checked = __req.path::<#checked>(#name)?;)
            }
            Source::Query { optional: true } => {
                let checked = url_param(option_inner(ty).unwrap_or(ty));
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
    let mut_req = if e
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Body | Source::BodyField))
    {
        quote!(mut)
    } else {
        quote!()
    };
    quote! {
        {
            let __svc = ::std::sync::Arc::clone(&self);
            routes.endpoint(&endpoints[#index], move |#mut_req __req: ::kit::__private::HttpRequest| {
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
