//! The static `ServiceDescriptor`: `__KIT_SERVICE` and what it points to,
//! built with the runtime's constructor functions.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};

use super::grpc::{request_ident, response_ident};
use super::types::{is_unit, payload};
use crate::internals::ast::{Endpoint, GrpcShape, Service, Source};

/// The descriptor items (inside the generated `const _` block).
pub(super) fn expand(service: &Service) -> TokenStream {
    let name = &service.name;
    let rust_type = service.self_ty.to_token_stream().to_string();
    let docs = &service.docs;
    let grpc = if service.has_grpc() {
        let package = &service.package;
        let grpc_name = service.type_ident.to_string();
        quote!(::core::option::Option::Some(::kit::__private::grpc_service(#package, #grpc_name)))
    } else {
        quote!(::core::option::Option::None)
    };
    let service_concurrency = option_u32(service.concurrency);
    let mut items = Vec::new();
    let mut endpoints = Vec::new();
    for (i, e) in service.endpoints.iter().enumerate() {
        let (item, value) = endpoint(service, i, e);
        items.push(item);
        endpoints.push(value);
    }
    quote! {
        #(#items)*

        const __KIT_ENDPOINTS: &[::kit::__private::EndpointDescriptor] = &[#(#endpoints),*];

        const __KIT_SERVICE: ::kit::__private::ServiceDescriptor = ::kit::__private::service(
            #name,
            #rust_type,
            ::core::env!("CARGO_PKG_VERSION"),
            #docs,
            #service_concurrency,
            #grpc,
            __KIT_ENDPOINTS,
        );
    }
}

/// The items one endpoint's descriptor needs, and the descriptor.
fn endpoint(service: &Service, index: usize, e: &Endpoint) -> (TokenStream, TokenStream) {
    let args_const = format_ident!("__KIT_ARGS_{}", index);
    let mut items = TokenStream::new();
    let mut args = Vec::new();
    for (j, a) in e.args.iter().enumerate() {
        let name = &a.name;
        let ty = a.ty.to_token_stream().to_string();
        let source = syn::Ident::new(a.source.descriptor_variant(), Span::call_site());
        let schema = if e.http.is_some() && a.source != Source::Context {
            let f = format_ident!("__kit_schema_{}_{}", index, j);
            items.extend(schema_fn(&f, &a.ty));
            quote!(::core::option::Option::Some(#f))
        } else {
            quote!(::core::option::Option::None)
        };
        args.push(quote!(::kit::__private::arg(
            #name,
            #ty,
            ::kit::__private::ArgSource::#source,
            #schema,
        )));
    }
    items.extend(quote! {
        const #args_const: &[::kit::__private::ArgDescriptor] = &[#(#args),*];
    });
    let http = match &e.http {
        Some(http) => {
            let method = syn::Ident::new(http.route.method.variant(), Span::call_site());
            let path = &http.route.path;
            let response = if is_unit(&e.output.ok) {
                quote!(::core::option::Option::None)
            } else {
                let f = format_ident!("__kit_schema_{}_result", index);
                items.extend(schema_fn(&f, &e.output.ok));
                quote!(::core::option::Option::Some(#f))
            };
            let fallible = e.output.fallible;
            quote!(::core::option::Option::Some(::kit::__private::http_route(
                ::kit::__private::HttpMethod::#method,
                #path,
                #response,
                #fallible,
            )))
        }
        None => quote!(::core::option::Option::None),
    };
    let grpc = match &e.grpc {
        Some(g) => {
            let method = &g.method;
            let path = format!("/{}.{}/{}", service.package, service.type_ident, method);
            let request_fn = format_ident!("__kit_grpc_request_{}", index);
            let response_fn = format_ident!("__kit_grpc_response_{}", index);
            let (request, response) = (request_ident(index), response_ident(index));
            let request_name = format!("{method}Request");
            let response_name = format!("{method}Response");
            let register_request = match (g.shape, e.wire_args().next()) {
                (GrpcShape::Body, Some(body)) => {
                    let (ty, field) = (payload(&body.ty), &body.name);
                    quote!(<#ty as ::kit::__private::proto::GrpcPayload>::register(schema, #request_name, #field))
                }
                _ => quote!(::kit::__private::proto::register_message::<#request>(schema)),
            };
            let ok = payload(&e.output.ok);
            items.extend(quote! {
                fn #request_fn(schema: &mut ::kit::__private::proto::Schema) -> ::std::string::String {
                    #register_request
                }
                fn #response_fn(schema: &mut ::kit::__private::proto::Schema) -> ::std::string::String {
                    let _ = ::core::marker::PhantomData::<#response>;
                    <#ok as ::kit::__private::proto::GrpcPayload>::register(schema, #response_name, "value")
                }
            });
            quote!(::core::option::Option::Some(::kit::__private::grpc_method(
                #method,
                #path,
                #request_fn,
                #response_fn,
            )))
        }
        None => quote!(::core::option::Option::None),
    };
    let timeout = match e.timeout {
        Some(d) => {
            let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            quote!(::core::option::Option::Some(#nanos))
        }
        None => quote!(::core::option::Option::None),
    };
    let (service_name, name, docs, retry, idempotent) =
        (&service.name, &e.name, &e.docs, e.retry, e.idempotent);
    let returns = e.output.ok.to_token_stream().to_string();
    let limits = if e.concurrency.is_none() && service.concurrency.is_none() && e.rate.is_none() {
        quote!(::kit::__private::NO_LIMITS)
    } else {
        let concurrency = option_u32(e.concurrency);
        let service_concurrency = option_u32(service.concurrency);
        let rate = match e.rate {
            Some((count, nanos, burst)) => {
                quote!(::core::option::Option::Some((#count, #nanos, #burst)))
            }
            None => quote!(::core::option::Option::None),
        };
        quote!(::kit::__private::limits(#concurrency, #service_concurrency, #rate))
    };
    let mut value = quote! {
        ::kit::__private::endpoint(
            #service_name,
            #name,
            #docs,
            #http,
            #grpc,
            #timeout,
            #retry,
            #idempotent,
            #limits,
            #args_const,
            #returns,
        )
    };
    let kind = e.stream_kind();
    if kind != "Unary" {
        let kind = syn::Ident::new(kind, Span::call_site());
        value = quote!(::kit::__private::streaming(#value, ::kit::__private::StreamKind::#kind));
    }
    if let Some(slow) = e.slow {
        let nanos = u64::try_from(slow.as_nanos()).unwrap_or(u64::MAX);
        value = quote!(::kit::__private::slow(#value, #nanos));
    }
    if let Some(policy) = &e.auth {
        let (schemes, requires) = (&policy.schemes, &policy.requires);
        value = quote!(::kit::__private::auth(#value, &[#(#schemes),*], &[#(#requires),*]));
    }
    (items, value)
}

/// The OpenAPI schema function of `ty`: the runtime's probe, specialized
/// by autoref on the concrete type, so a type without `JsonSchema` (or
/// without `Deserialize`) is described as unconstrained instead of failing
/// to compile. Spanned at the call site: it never reports an error of its
/// own at the user's type.
fn schema_fn(f: &syn::Ident, ty: &syn::Type) -> TokenStream {
    quote! {
        fn #f(
            generator: &mut ::kit::__private::openapi::SchemaGenerator,
        ) -> ::kit::__private::openapi::TypeInfo {
            #[allow(unused_imports)]
            use ::kit::__private::openapi::{
                JsonSchemaKind as _, NoJsonSchema as _, NoSerde as _, SerdeKind as _,
            };
            let probe = &::kit::__private::openapi::Probe::<#ty>::new();
            ::kit::__private::openapi::type_info(
                probe.json_schema(generator),
                probe.serde_info(),
            )
        }
    }
}

fn option_u32(value: Option<u32>) -> TokenStream {
    match value {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    }
}
