//! The typed client `<Type>Client`: one async method per endpoint, each
//! encoding its arguments and handing the call to the runtime's client.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use super::grpc::{request_ident, response_ident};
use super::types::{url, wire};
use crate::internals::ast::{Endpoint, GrpcShape, Service, Source};
use crate::internals::parse::option_inner;
use crate::internals::route::Segment;

/// The client type (outside the `const _` block: users name it).
pub(super) fn definition(service: &Service, client: &Ident) -> TokenStream {
    let doc = format!(
        "Typed client of [`{}`] (service `{}`): one async method per endpoint, with the endpoint's timeout, retries, trace propagation and metrics. Make one with [`{client}::connect`] or [`{client}::builder`].",
        service.type_ident, service.name
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        pub struct #client {
            inner: ::kit::__private::Client,
        }
    }
}

/// The client's constructors and methods (inside the `const _` block).
pub(super) fn methods(service: &Service, client: &Ident) -> TokenStream {
    let methods = service
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| method(service, i, e));
    quote! {
        #[automatically_derived]
        impl ::core::convert::From<::kit::__private::Client> for #client {
            fn from(inner: ::kit::__private::Client) -> Self {
                #client { inner }
            }
        }

        #[automatically_derived]
        impl #client {
            /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`)
            /// over HTTP/JSON, after checking that the server accepts
            /// connections (UNAVAILABLE if not). Calls pool their
            /// connections; `builder().build()` does no I/O at all.
            pub async fn connect(base_url: impl ::core::convert::AsRef<str>) -> ::core::result::Result<Self, ::kit::Error> {
                let client: ::kit::__private::Client = ::kit::ClientBuilder::new(&__KIT_SERVICE)
                    .base_url(base_url.as_ref())
                    .build()?;
                client.check_reachable().await?;
                ::core::result::Result::Ok(#client { inner: client })
            }

            /// This client with every call bounded by `timeout` (the tighter
            /// of it and the endpoint's own `timeout` wins); the original
            /// is unchanged and clones are cheap.
            pub fn with_timeout(&self, timeout: ::core::time::Duration) -> Self {
                #client { inner: self.inner.with_timeout(timeout) }
            }

            /// This client sending `name: value` with every call (an HTTP
            /// header, or gRPC metadata); the original is unchanged.
            pub fn with_header(&self, name: &str, value: &str) -> Self {
                #client { inner: self.inner.with_header(name, value) }
            }

            /// This client sending `credentials` with every call instead of
            /// the builder's (`kit::client::credentials`: `Bearer`, `Basic`,
            /// `ApiKey`, `Refreshing`, `Forward`); the original is unchanged.
            pub fn with_credentials(
                &self,
                credentials: impl ::kit::client::credentials::Credentials,
            ) -> Self {
                #client { inner: self.inner.with_credentials(credentials) }
            }

            /// What this client knows of each instance of the service:
            /// state (live, ejected, probing), attempts served, failures,
            /// load and latency.
            pub fn instance_stats(&self) -> ::std::vec::Vec<::kit::lb::InstanceStats> {
                self.inner.instance_stats()
            }

            /// A builder for base URLs, transport, timeout, retries and layers.
            pub fn builder() -> ::kit::ClientBuilder<Self> {
                ::kit::ClientBuilder::new(&__KIT_SERVICE)
            }

            #(#methods)*
        }
    }
}

fn method(service: &Service, index: usize, e: &Endpoint) -> TokenStream {
    let ident = &e.ident;
    let docs = &e.docs;
    let ok = &e.output.ok;
    // Conveniences a caller expects: `"text"` for a `String`, `5` or
    // `None` for an `Option<u32>`, any stream of items for a request stream.
    let (params, conversions): (Vec<_>, Vec<_>) = e
        .wire_args()
        .map(|a| match a.source {
            Source::Stream => {
                let (i, t) = (&a.ident, &a.ty);
                (
                    quote!(#i: impl ::kit::Stream<Item = #t> + ::core::marker::Send + 'static),
                    quote!(),
                )
            }
            _ => param(&a.ident, &a.ty),
        })
        .unzip();
    let grpc = match &e.grpc {
        Some(g) => grpc_call(index, e, g.shape),
        None => {
            let msg = format!("{}.{} is served over HTTP only", service.name, e.name);
            quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)))
        }
    };
    let http = match &e.http {
        Some(_) => http_call(index, e),
        None => {
            let msg = format!("{}.{} is served over gRPC only; build the client with .transport(kit::Transport::Grpc)", service.name, e.name);
            quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)))
        }
    };
    let returns = if e.output.stream {
        quote!(::kit::Streaming<#ok>)
    } else {
        quote!(#ok)
    };
    let nats = nats_call(service, index, e);
    quote! {
        #[doc = #docs]
        pub async fn #ident(&self, #(#params),*) -> ::core::result::Result<#returns, ::kit::Error> {
            #(#conversions)*
            match self.inner.transport() {
                ::kit::Transport::Grpc => { #grpc }
                ::kit::Transport::Http => { #http }
                ::kit::Transport::Nats => { #nats }
            }
        }
    }
}

fn grpc_call(index: usize, e: &Endpoint, shape: GrpcShape) -> TokenStream {
    let (request, response) = (request_ident(index), response_ident(index));
    if let Some(arg) = e.stream_arg() {
        let i = &arg.ident;
        let requests = quote!(::kit::__private::StreamExt::map(#i, #request));
        return if e.output.stream {
            quote! {
                self.inner
                    .bidi_grpc::<#request, #response>(#index, #requests)
                    .await
                    .map(|__s| __s.map_ok(|__r| __r.0))
            }
        } else {
            quote! {
                self.inner
                    .client_stream_grpc::<#request, #response>(#index, #requests)
                    .await
                    .map(|__response| __response.0)
            }
        };
    }
    let wire: Vec<_> = e.wire_args().map(|a| &a.ident).collect();
    let value = match shape {
        GrpcShape::Args => quote!(#request { #(#wire),* }),
        GrpcShape::Body => quote!(#request(#(#wire)*)),
    };
    if e.output.stream {
        return quote! {
            self.inner
                .stream_grpc::<#request, #response>(#index, #value)
                .await
                .map(|__s| __s.map_ok(|__r| __r.0))
        };
    }
    quote! {
        self.inner
            .call_grpc::<#request, #response>(#index, #value)
            .await
            .map(|__response| __response.0)
    }
}

fn http_call(index: usize, e: &Endpoint) -> TokenStream {
    let Some(http) = &e.http else {
        return quote!();
    };
    let mut path = Vec::new();
    for seg in &http.route.segments {
        match seg {
            Segment::Literal(l) => path.push(quote!(__path.push_str(#l);)),
            Segment::Param(p) => {
                if let Some(arg) = e.args.iter().find(|a| a.name == *p) {
                    let (i, codec) = (&arg.ident, url(&arg.ty));
                    path.push(
                        quote!(::kit::__private::push_path_param(&mut __path, #codec, &#i)?;),
                    );
                }
            }
        }
    }
    let mut query = Vec::new();
    for arg in &e.args {
        let (i, name) = (&arg.ident, &arg.name);
        if let Source::Query { .. } = arg.source {
            let codec = url(&arg.ty);
            query.push(quote!(__query.push(#name, #codec, &#i)?;));
        }
    }
    let query = if query.is_empty() {
        quote!()
    } else {
        quote! {{
            let mut __query = ::kit::__private::QueryWriter::new(&mut __path);
            #(#query)*
        }}
    };
    let body = http_body(e, http.route.method.has_body());
    let codec = wire(&e.output.ok);
    let call = if e.output.stream {
        quote!(stream_http)
    } else {
        quote!(call_http)
    };
    quote! {
        let mut __path = ::std::string::String::new();
        #(#path)*
        #query
        let __body = #body;
        self.inner
            .#call(#index, ::kit::__private::HttpCall::new(__path, __body), #codec)
            .await
    }
}

/// The HTTP body of a call (an `Option<Bytes>`): the `#[body]` argument,
/// the object of the body fields, `{}` for a body route without any, or
/// none.
fn http_body(e: &Endpoint, has_body: bool) -> TokenStream {
    let fields: Vec<_> = e
        .args
        .iter()
        .filter(|a| a.source == Source::BodyField)
        .collect();
    let whole = e.args.iter().find(|a| a.source == Source::Body);
    if let Some(arg) = whole {
        let (i, codec) = (&arg.ident, wire(&arg.ty));
        quote!(::core::option::Option::Some(#codec.body(&#i)?))
    } else if !fields.is_empty() {
        let adds = fields.iter().map(|a| {
            let (i, name, codec) = (&a.ident, &a.name, wire(&a.ty));
            quote!(.field(#name, #codec, &#i)?)
        });
        quote!(::core::option::Option::Some(::kit::__private::JsonObject::new() #(#adds)* .finish()))
    } else if has_body {
        quote!(::core::option::Option::Some(
            ::kit::__private::Bytes::from_static(b"{}")
        ))
    } else {
        quote!(::core::option::Option::None)
    }
}

/// The NATS branch: the payload is the HTTP body when the route takes
/// nothing from its URL, else the object of every argument by name (see
/// the runtime's `transport::nats::payload`).
fn nats_call(service: &Service, index: usize, e: &Endpoint) -> TokenStream {
    if e.output.stream {
        let msg = format!(
            "{}.{} streams, and NATS request/reply carries one reply; call it over HTTP or gRPC",
            service.name, e.name
        );
        return quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)));
    }
    if e.http.is_none() {
        let msg = format!(
            "{}.{} is served over gRPC only, not over NATS; build the client with .transport(kit::Transport::Grpc)",
            service.name, e.name
        );
        return quote!(::core::result::Result::Err(::kit::Error::unimplemented(#msg)));
    }
    let from_url = e
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Path | Source::Query { .. }));
    let payload = if from_url {
        // URL arguments through their URL codec, so a type is checked
        // where the HTTP branch checks it, and reported once.
        let adds = e.wire_args().map(|a| {
            let (i, name) = (&a.ident, &a.name);
            match a.source {
                Source::Path | Source::Query { .. } => {
                    let codec = url(&a.ty);
                    quote!(.url_field(#name, #codec, &#i)?)
                }
                _ => {
                    let codec = wire(&a.ty);
                    quote!(.field(#name, #codec, &#i)?)
                }
            }
        });
        quote!(::kit::__private::JsonObject::new() #(#adds)* .finish())
    } else {
        let body = http_body(e, true);
        quote!(#body.unwrap_or_default())
    };
    let codec = wire(&e.output.ok);
    quote! {
        let __payload = #payload;
        self.inner.call_nats(#index, __payload, #codec).await
    }
}

/// A client method's parameter for an argument, and the statement that
/// turns it back into the argument's type: `impl Into<String>` for a
/// `String`, `impl Into<Option<T>>` for an `Option<T>`, the type itself
/// otherwise.
pub(super) fn param(i: &Ident, t: &syn::Type) -> (TokenStream, TokenStream) {
    if is_string(t) {
        (
            quote!(#i: impl ::core::convert::Into<::std::string::String>),
            quote!(let #i: #t = ::core::convert::Into::into(#i);),
        )
    } else if let Some(inner) = option_inner(t) {
        (
            quote!(#i: impl ::core::convert::Into<::core::option::Option<#inner>>),
            quote!(let #i: #t = ::core::convert::Into::into(#i);),
        )
    } else {
        (quote!(#i: #t), quote!())
    }
}

/// Whether the type is written `String` (or `std::string::String`).
fn is_string(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_empty()))
}
