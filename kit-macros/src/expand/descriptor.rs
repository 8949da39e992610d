//! The static `ServiceDescriptor`, the `kit::Service` impl's constant, and
//! its `inventory` registration.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::model::{Endpoint, Service};

pub fn expand(service: &Service) -> TokenStream {
    let self_ty = &service.self_ty;
    let name = &service.name;
    let rust_type = self_ty.to_token_stream().to_string();
    let docs = &service.docs;
    let endpoints = service.endpoints.iter().map(|e| endpoint(service, e));
    let grpc_service = if service.has_grpc() {
        let package = &service.package;
        let name = service.type_ident.to_string();
        quote!(::core::option::Option::Some(::kit::__private::GrpcService { package: #package, name: #name }))
    } else {
        quote!(::core::option::Option::None)
    };
    quote! {
        impl #self_ty {
            #[doc(hidden)]
            pub const __KIT_DESCRIPTOR: &'static ::kit::__private::ServiceDescriptor = &::kit::__private::ServiceDescriptor {
                name: #name,
                rust_type: #rust_type,
                version: ::core::env!("CARGO_PKG_VERSION"),
                docs: #docs,
                grpc: #grpc_service,
                endpoints: &[#(#endpoints),*],
            };
        }

        ::kit::__private::inventory::submit! {
            ::kit::__private::ServiceRegistration(<#self_ty>::__KIT_DESCRIPTOR)
        }
    }
}

fn endpoint(service: &Service, e: &Endpoint) -> TokenStream {
    let service_name = &service.name;
    let name = e.ident.to_string();
    let docs = &e.docs;
    let http = match &e.route {
        Some(route) => {
            let method = syn::Ident::new(route.method.variant(), proc_macro2::Span::call_site());
            let path = &route.path;
            quote!(::core::option::Option::Some(::kit::__private::HttpRoute {
                method: ::kit::__private::HttpMethod::#method,
                path: #path,
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let grpc = match super::grpc::types(service, e) {
        Some(t) => {
            let name = e.grpc.clone().unwrap_or_default();
            let path = format!("/{}.{}/{}", service.package, service.type_ident, name);
            let (req, resp) = (&t.request, &t.response);
            quote!(::core::option::Option::Some(::kit::__private::GrpcMethod {
                name: #name,
                path: #path,
                request: ::kit::__private::proto::message_type::<#req>,
                response: ::kit::__private::proto::message_type::<#resp>,
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let timeout = match e.timeout {
        Some(d) => {
            let nanos = d.as_nanos() as u64;
            quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let retry = e.retry;
    let idempotent = e.idempotent;
    let args = e.args.iter().map(|a| {
        let name = a.ident.to_string();
        let ty = a.ty.to_token_stream().to_string();
        let source = syn::Ident::new(
            a.source.descriptor_variant(),
            proc_macro2::Span::call_site(),
        );
        quote!(::kit::__private::ArgDescriptor {
            name: #name,
            rust_type: #ty,
            source: ::kit::__private::ArgSource::#source,
        })
    });
    let returns = e.output.ok.to_token_stream().to_string();
    quote! {
        ::kit::__private::EndpointDescriptor {
            service: #service_name,
            name: #name,
            docs: #docs,
            http: #http,
            grpc: #grpc,
            timeout: #timeout,
            retry: #retry,
            idempotent: #idempotent,
            args: &[#(#args),*],
            returns: #returns,
        }
    }
}
