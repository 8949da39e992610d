//! Code generation, one module per output.

mod client;
mod descriptor;
mod grpc;
mod http;
pub mod message;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

/// Expands `#[kit::service(args)] impl ... { item }`.
pub fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(i) => i,
        Err(_) => {
            let err = syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[kit::service] goes on an impl block: `#[kit::service] impl MyService { ... }`",
            );
            let mut out = err.to_compile_error();
            out.extend(item);
            return out;
        }
    };
    // `parse::service` strips the helper attributes as it reads them, so the
    // impl re-emitted below compiles even when the annotations do not.
    match crate::parse::service(args, &mut item_impl) {
        Ok(service) => {
            let descriptor = descriptor::expand(&service);
            let self_ty = &service.self_ty;
            let http = http::mount_body(&service);
            let (messages, grpc) = grpc::expand(&service);
            let client = client::expand(&service);
            quote! {
                #item_impl
                #descriptor
                #messages

                impl ::kit::Service for #self_ty {
                    const DESCRIPTOR: &'static ::kit::__private::ServiceDescriptor = <#self_ty>::__KIT_DESCRIPTOR;

                    fn mount_http(self: ::std::sync::Arc<Self>, routes: &mut ::kit::__private::HttpRoutes) {
                        #http
                    }

                    fn mount_grpc(self: ::std::sync::Arc<Self>, routes: &mut ::kit::__private::GrpcRoutes) {
                        #grpc
                    }
                }

                #client
            }
        }
        Err(errors) => {
            let errors = errors.write_errors();
            quote! {
                #item_impl
                #errors
            }
        }
    }
}
