//! What a service expands to when its annotations have errors: the
//! `Endpoints` impl and a client whose methods are `unimplemented!()`
//! stubs, so code that uses them still type-checks and the user sees the
//! errors that matter, not "no method named ..." after each.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};

use super::client::{definition, param};
use crate::internals::ast::Service;

/// Names the client defines itself; a stub of one would clash.
const CLIENT_OWN: &[&str] = &[
    "connect",
    "builder",
    "from",
    "into",
    "clone",
    "with_timeout",
    "with_header",
    "instance_stats",
];

pub(super) fn service(service: &Service) -> TokenStream {
    let self_ty = &service.self_ty;
    let client = format_ident!("{}Client", service.type_ident);
    let client_struct = definition(service, &client);
    let name = &service.name;
    let rust_type = self_ty.to_token_stream().to_string();
    let stubs = service
        .stubs
        .iter()
        .filter(|s| !CLIENT_OWN.contains(&s.ident.to_string().as_str()))
        .map(|s| {
            let (ident, ok) = (&s.ident, &s.ok);
            let (generics, where_clause) = (&s.generics, &s.generics.where_clause);
            let params = s.params.iter().map(|(i, t)| param(i, t).0);
            quote! {
                #[allow(unused_variables)]
                pub async fn #ident #generics (&self, #(#params),*) -> ::core::result::Result<#ok, ::kit::Error> #where_clause {
                    ::core::unimplemented!()
                }
            }
        });
    quote! {
        #client_struct

        const _: () = {
            #[automatically_derived]
            impl ::kit::Endpoints for #self_ty {
                const DESCRIPTOR: &'static ::kit::__private::ServiceDescriptor = &::kit::__private::service(
                    #name, #rust_type, "", "", ::core::option::Option::None, ::core::option::Option::None, &[],
                );

                fn mount_http(self: ::std::sync::Arc<Self>, _: &mut ::kit::__private::HttpRoutes) {}
            }

            #[automatically_derived]
            impl ::core::convert::From<::kit::__private::Client> for #client {
                fn from(inner: ::kit::__private::Client) -> Self {
                    #client { inner }
                }
            }

            #[automatically_derived]
            impl #client {
                /// Not available: the service's annotations have errors.
                pub async fn connect(_base_url: impl ::core::convert::AsRef<str>) -> ::core::result::Result<Self, ::kit::Error> {
                    ::core::unimplemented!()
                }

                /// Not available: the service's annotations have errors.
                pub fn builder() -> ::kit::ClientBuilder<Self> {
                    ::core::unimplemented!()
                }

                /// Not available: the service's annotations have errors.
                pub fn with_timeout(&self, _timeout: ::core::time::Duration) -> Self {
                    ::core::unimplemented!()
                }

                /// Not available: the service's annotations have errors.
                pub fn with_header(&self, _name: &str, _value: &str) -> Self {
                    ::core::unimplemented!()
                }

                /// Not available: the service's annotations have errors.
                pub fn instance_stats(&self) -> ::std::vec::Vec<::kit::lb::InstanceStats> {
                    ::core::unimplemented!()
                }

                #(#stubs)*
            }
        };
    }
}
