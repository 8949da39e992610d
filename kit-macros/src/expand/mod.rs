//! Code generation, one module per output, each reading only the model.
//!
//! Everything generated goes through `::kit::__private` (the runtime's
//! `codegen` module) and, but for the client type users name, sits inside
//! `const _: () = { ... };` so no helper item reaches the user's namespace.

mod client;
mod descriptor;
mod fallback;
mod grpc;
mod http;
mod message;
mod types;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{DeriveInput, Item};

use crate::internals::{check, parse, Ctxt};

/// Expands `#[kit::service(args)] impl ... { ... }`.
pub(crate) fn service(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item_impl = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(i)) => i,
        Ok(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                "#[kit::service] goes on an impl block: `#[kit::service] impl MyService { ... }`",
            );
            let mut out = err.to_compile_error();
            out.extend(item);
            return out;
        }
        // Not parseable: syn's own error says where, and the item goes
        // back as it came so rustc reports its syntax too.
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(item);
            return out;
        }
    };
    let mut cx = Ctxt::new();
    // `parse::service` strips the helper attributes as it reads them, so the
    // impl re-emitted below compiles even when the annotations do not.
    let model = parse::service(&mut cx, args, &mut item_impl);
    if let Some(service) = &model {
        check::service(&mut cx, service);
    }
    let generated = match &model {
        Some(service) if !cx.has_errors() => {
            let client_ident = format_ident!("{}Client", service.type_ident);
            let client_struct = client::definition(service, &client_ident);
            let endpoints = descriptor::expand(service);
            let messages = grpc::messages(service);
            let http = http::mount(service);
            let grpc = grpc::mount(service);
            let client_impl = client::methods(service, &client_ident);
            let self_ty = &service.self_ty;
            quote! {
                #client_struct

                const _: () = {
                    #endpoints
                    #messages

                    #[automatically_derived]
                    impl ::kit::Endpoints for #self_ty {
                        const DESCRIPTOR: &'static ::kit::__private::ServiceDescriptor = &__KIT_SERVICE;

                        fn mount_http(self: ::std::sync::Arc<Self>, routes: &mut ::kit::__private::HttpRoutes) {
                            #http
                        }

                        fn mount_grpc(self: ::std::sync::Arc<Self>, routes: &mut ::kit::__private::GrpcRoutes) {
                            #grpc
                        }
                    }

                    ::kit::__private::inventory::submit! {
                        ::kit::__private::ServiceRegistration(&__KIT_SERVICE)
                    }

                    #client_impl
                };
            }
        }
        Some(service) => fallback::service(service),
        None => TokenStream::new(),
    };
    let errors = cx.finish();
    quote! {
        #item_impl
        #generated
        #errors
    }
}

/// Expands `#[derive(kit::Message)]`.
pub(crate) fn message(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut cx = Ctxt::new();
    let generated = match parse::derive_input(&mut cx, &input) {
        Some(parse::Derived::Message(m)) => {
            check::message(&mut cx, &m);
            message::message(&m)
        }
        Some(parse::Derived::Enum(e)) => {
            check::enumeration(&mut cx, &e);
            message::enumeration(&e)
        }
        Some(parse::Derived::Newtype(n)) => message::newtype(&n),
        Some(parse::Derived::Oneof(o)) => {
            check::oneof(&mut cx, &o);
            message::oneof(&o)
        }
        None => TokenStream::new(),
    };
    if cx.has_errors() {
        // Stubs would only add errors: a derive that failed emits nothing
        // but its errors, and the type stays as the user wrote it.
        return cx.finish();
    }
    generated
}

/// `#[endpoint]` outside a `#[kit::service]` impl block.
pub(crate) fn stray_endpoint(_args: TokenStream, item: TokenStream) -> TokenStream {
    let mut out = syn::Error::new(
        Span::call_site(),
        "#[endpoint] only works on a method inside an impl block annotated with #[kit::service]",
    )
    .to_compile_error();
    out.extend(item);
    out
}

#[cfg(test)]
mod corpus_tests;
