//! The server side over HTTP: `impl kit::Service`, whose `mount_http`
//! registers one handler per endpoint. Each handler only decodes the
//! arguments, calls the method and encodes the result; everything else is
//! the runtime's server stack.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Endpoint, Service, Source};
use crate::parse::option_inner;

pub fn expand(service: &Service) -> TokenStream {
    let self_ty = &service.self_ty;
    let mounts = service
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| e.route.is_some())
        .map(|(i, e)| mount(i, e));
    quote! {
        impl ::kit::Service for #self_ty {
            const DESCRIPTOR: &'static ::kit::__private::ServiceDescriptor = <#self_ty>::__KIT_DESCRIPTOR;

            fn mount_http(self: ::std::sync::Arc<Self>, routes: &mut ::kit::__private::HttpRoutes) {
                let endpoints = <Self as ::kit::Service>::DESCRIPTOR.endpoints;
                #(#mounts)*
            }
        }
    }
}

fn mount(index: usize, e: &Endpoint) -> TokenStream {
    let method = &e.ident;
    let mut decode = Vec::new();
    let mut body_fields = Vec::new();
    let mut call_args = Vec::new();
    for arg in &e.args {
        let ident = &arg.ident;
        let name = ident.to_string();
        let ty = &arg.ty;
        match arg.source {
            Source::Path => {
                decode.push(quote_spanned!(ty.span()=> let #ident: #ty = __req.path::<#ty>(#name)?;));
                call_args.push(quote!(#ident));
            }
            Source::Query { optional: true } => {
                let inner = option_inner(ty).unwrap_or(ty);
                decode.push(quote_spanned!(inner.span()=> let #ident: #ty = __req.query_opt::<#inner>(#name)?;));
                call_args.push(quote!(#ident));
            }
            Source::Query { optional: false } => {
                decode.push(quote_spanned!(ty.span()=> let #ident: #ty = __req.query::<#ty>(#name)?;));
                call_args.push(quote!(#ident));
            }
            Source::Body => {
                decode.push(quote_spanned!(ty.span()=> let #ident: #ty = __req.json::<#ty>().await?;));
                call_args.push(quote!(#ident));
            }
            Source::BodyField => {
                body_fields.push(quote_spanned!(ty.span()=> #ident: #ty));
                call_args.push(quote!(#ident));
            }
            Source::Context => {
                decode.push(quote!(let #ident = ::kit::Context::current();));
                call_args.push(quote!(&#ident));
            }
        }
    }
    if !body_fields.is_empty() {
        let names: Vec<_> = e
            .args
            .iter()
            .filter(|a| a.source == Source::BodyField)
            .map(|a| &a.ident)
            .collect();
        decode.push(quote! {
            #[derive(::kit::__private::serde::Deserialize)]
            #[serde(crate = "::kit::__private::serde")]
            struct __KitBody { #(#body_fields),* }
            let __KitBody { #(#names),* } = __req.json::<__KitBody>().await?;
        });
    }
    let ok_ty = &e.output.ok;
    let reply = if e.output.fallible {
        quote_spanned!(ok_ty.span()=> ::kit::__private::reply(__out))
    } else {
        quote_spanned!(ok_ty.span()=> ::kit::__private::json_response(&__out))
    };
    let mut_req = if e.args.iter().any(|a| matches!(a.source, Source::Body | Source::BodyField)) {
        quote!(mut)
    } else {
        quote!()
    };
    let svc = format_ident!("__svc");
    quote! {
        {
            let #svc = ::std::sync::Arc::clone(&self);
            routes.endpoint(&endpoints[#index], move |#mut_req __req: ::kit::__private::HttpRequest| {
                let #svc = ::std::sync::Arc::clone(&#svc);
                async move {
                    #(#decode)*
                    let __out = #svc.#method(#(#call_args),*).await;
                    #reply
                }
            });
        }
    }
}
