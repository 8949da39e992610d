//! `#[endpoint(...)] async fn name(&self, args...) -> T`.

use std::time::Duration;

use darling::util::Override;
use darling::FromMeta;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ImplItemFn, Pat, Type};

use super::{docs, is_context, is_owned_context, option_inner, output, streaming_item, wire_name};
use crate::internals::ast::{Arg, Endpoint, Grpc, GrpcShape, Http, Source};
use crate::internals::attr::{EndpointArgs, EndpointKeys};
use crate::internals::auth::policy;
use crate::internals::case::pascal_case;
use crate::internals::duration::{parse_positive, parse_timeout};
use crate::internals::limits::{positive, rate};
use crate::internals::route::{parse_route, Route};
use crate::internals::Ctxt;

/// Names the generated client already uses.
const RESERVED: &[&str] = &[
    "connect",
    "builder",
    "from",
    "into",
    "clone",
    "with_timeout",
    "with_header",
    "with_credentials",
    "instance_stats",
];

/// Removes `#[endpoint]` from the method and returns it.
pub(super) fn take_endpoint_attr(cx: &mut Ctxt, method: &mut ImplItemFn) -> Option<Attribute> {
    let mut found: Option<Attribute> = None;
    let mut kept = Vec::new();
    for attr in method.attrs.drain(..) {
        if attr.path().is_ident("endpoint") {
            if found.is_some() {
                cx.error_at(&attr, "a method takes one #[endpoint(...)] attribute");
            } else {
                found = Some(attr);
            }
        } else {
            kept.push(attr);
        }
    }
    method.attrs = kept;
    found
}

/// Reads one endpoint. `None` when its attribute does not parse (the
/// error is recorded); otherwise every other mistake is recorded and the
/// endpoint returned as far as it makes sense.
pub(super) fn endpoint(
    cx: &mut Ctxt,
    method: &ImplItemFn,
    attr: &Attribute,
    defaults: &EndpointKeys,
    default_timeout: Option<Duration>,
) -> Option<Endpoint> {
    let args = match &attr.meta {
        syn::Meta::Path(_) => EndpointArgs::default(),
        meta => cx.ok(EndpointArgs::from_meta(meta))?,
    };
    let sig = &method.sig;
    let ident = sig.ident.clone();
    let name = wire_name(&ident);
    signature(cx, method);
    let http = args.http.as_ref().and_then(|lit| {
        let route =
            cx.ok(parse_route(&lit.value()).map_err(|e| darling::Error::custom(e).with_span(lit)))?;
        Some(Http {
            route,
            span: lit.span(),
        })
    });
    let grpc_key = args.keys.grpc.as_ref().or(defaults.grpc.as_ref());
    let grpc_method = grpc_key.map(|g| match g.as_ref() {
        Override::Explicit(name) => name.value(),
        Override::Inherit => pascal_case(&name),
    });
    if let Some(method_name) = &grpc_method {
        let ok = method_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && method_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            let span = args
                .keys
                .grpc
                .as_ref()
                .map(|g| g.span())
                .unwrap_or_else(|| attr.span());
            cx.error_span(
                span,
                format!("`{method_name}` is not a valid gRPC method name"),
            );
        }
    }
    if args.http.is_none() && grpc_method.is_none() {
        cx.error_at(
            attr.path(),
            "this endpoint has no transport: add `http = \"METHOD /path\"`, `grpc`, or both",
        );
    }
    let timeout = match &args.keys.timeout {
        Some(t) => {
            cx.ok(parse_timeout(&t.value()).map_err(|e| darling::Error::custom(e).with_span(t)))
        }
        None => default_timeout,
    };
    let slow = args
        .keys
        .slow
        .as_ref()
        .or(defaults.slow.as_ref())
        .and_then(|t| {
            cx.ok(parse_positive(&t.value(), "slow")
                .map_err(|e| darling::Error::custom(e).with_span(t)))
        });
    let retry = args.keys.retry.or(defaults.retry).map(|r| *r).unwrap_or(0);
    let concurrency = positive(cx, args.concurrency.as_ref(), "concurrency");
    let rate = rate(cx, &args.keys, defaults);
    let idempotent = args.keys.idempotent.is_present() || defaults.idempotent.is_present();
    let auth = policy(cx, &args, defaults);
    let arg_list = arguments(cx, method, http.as_ref().map(|h| &h.route));
    let output = output(&sig.output);
    let streams = output.stream || arg_list.iter().any(|a| a.source == Source::Stream);
    let mut retry = retry;
    if streams {
        streaming_keys(cx, &args);
        // A service-wide default does not apply: streams are not retried.
        retry = 0;
    }
    let grpc = grpc_method.map(|method_name| {
        let wire: Vec<&Arg> = arg_list
            .iter()
            .filter(|a| a.source != Source::Context)
            .collect();
        let shape = match wire.as_slice() {
            [only] if matches!(only.source, Source::Body | Source::Stream) => GrpcShape::Body,
            _ => GrpcShape::Args,
        };
        Grpc {
            method: method_name,
            shape,
        }
    });
    Some(Endpoint {
        ident,
        name,
        docs: docs(&method.attrs),
        http,
        grpc,
        timeout,
        slow,
        retry,
        idempotent,
        concurrency,
        rate,
        args: arg_list,
        output,
        auth,
    })
}

/// The keys a streaming endpoint refuses, at their spans: a stream is one
/// attempt, and limits and the slow log count requests until their
/// response starts, which says little about a stream.
fn streaming_keys(cx: &mut Ctxt, args: &EndpointArgs) {
    if let Some(r) = &args.keys.retry {
        cx.error_span(
            r.span(),
            "streaming endpoints are not retried (items already delivered cannot be taken back): remove `retry`",
        );
    }
    if args.keys.idempotent.is_present() {
        cx.error_span(
            args.keys.idempotent.span(),
            "`idempotent` allows retries, and streaming endpoints are not retried: remove it",
        );
    }
    if let Some(c) = &args.concurrency {
        cx.error_span(
            c.span(),
            "`concurrency` on a streaming endpoint is planned, not built (the limit would hold only until the stream starts): remove it",
        );
    }
    if let Some(s) = &args.keys.slow {
        cx.error_span(
            s.span(),
            "`slow` on a streaming endpoint is planned, not built; the endpoint's `timeout` bounds the whole stream",
        );
    }
}

/// The rules for an endpoint's signature.
fn signature(cx: &mut Ctxt, method: &ImplItemFn) {
    let sig = &method.sig;
    let ident = &sig.ident;
    if RESERVED.contains(&wire_name(ident).as_str()) {
        cx.error_at(
            ident,
            format!("an endpoint cannot be named `{ident}`: the generated client uses that name"),
        );
    }
    // One error per signature problem: a `const`/`unsafe`/`extern` fn is
    // reported as that, not also as "not async".
    let qualifier = if let Some(c) = &sig.constness {
        cx.error_at(c, "endpoints cannot be `const fn`; write `async fn`");
        true
    } else if let Some(u) = &sig.unsafety {
        cx.error_at(
            u,
            "endpoints cannot be `unsafe fn`: callers over the network cannot uphold a safety contract",
        );
        true
    } else if let Some(abi) = &sig.abi {
        cx.error_at(abi, "endpoints cannot have an `extern` ABI");
        true
    } else {
        false
    };
    if !qualifier && sig.asyncness.is_none() {
        cx.error_at(&sig.fn_token, "endpoints must be `async fn`");
    }
    if let Some(v) = &sig.variadic {
        cx.error_at(v, "endpoints cannot be variadic");
    }
    if !sig.generics.params.is_empty() {
        cx.error_at(
            &sig.generics,
            "endpoints cannot be generic: the wire types must be concrete",
        );
    } else if let Some(w) = &sig.generics.where_clause {
        cx.error_at(
            w,
            "endpoints cannot have `where` clauses: the wire types must be concrete",
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => cx.error_at(
            r,
            "endpoints take `&self` (the service is shared between requests)",
        ),
        _ => cx.error_at(ident, "endpoints take `&self` as their first argument"),
    }
}

/// The rules for a `kit::Streaming<T>` argument: gRPC only, the only
/// argument that travels.
fn request_stream(
    cx: &mut Ctxt,
    pt: &syn::PatType,
    route: Option<&Route>,
    before: &[Arg],
    bound_over_http: bool,
) {
    if route.is_some() {
        cx.error_at(
            &pt.ty,
            "a request stream is served over gRPC only (client and bidirectional streaming over HTTP are planned, not built): remove `http = ...` from this endpoint, or take the items as a `Vec`",
        );
    } else if bound_over_http {
        cx.error_at(&pt.pat, "a request stream cannot be #[body]");
    }
    if let Some(other) = before.iter().find(|a| a.source != Source::Context) {
        cx.error_at(
            &pt.pat,
            format!("a request stream carries every request message, so it must be the only argument besides `&Context`; `{}` has nowhere to go", other.ident),
        );
    }
}

/// The arguments after `&self`, each with where it comes from over HTTP.
fn arguments(cx: &mut Ctxt, method: &ImplItemFn, route: Option<&Route>) -> Vec<Arg> {
    let mut args: Vec<Arg> = Vec::new();
    for input in method.sig.inputs.iter() {
        let FnArg::Typed(pt) = input else { continue };
        let Pat::Ident(pi) = &*pt.pat else {
            cx.error_at(
                &pt.pat,
                "endpoint arguments must be plain names (they name the request fields)",
            );
            continue;
        };
        if pi.by_ref.is_some() || pi.subpat.is_some() {
            cx.error_at(&pt.pat, "endpoint arguments must be plain names");
            continue;
        }
        let ident = pi.ident.clone();
        let name = wire_name(&ident);
        let ty = (*pt.ty).clone();
        let is_body = pt.attrs.iter().any(|a| a.path().is_ident("body"));
        let in_path = route.is_some_and(|r| r.params().any(|p| p == name));
        if let Some(item) = streaming_item(&ty) {
            request_stream(cx, pt, route, &args, is_body || in_path);
            args.push(Arg {
                ident,
                name,
                ty: item,
                source: Source::Stream,
            });
            continue;
        }
        if let Some(stream) = args.iter().find(|a| a.source == Source::Stream) {
            if !is_context(&ty) {
                cx.error_at(
                    &pt.pat,
                    format!("`{}` is the request stream and carries every request message, so `{name}` has nowhere to go: make it a field of the stream's item type", stream.ident),
                );
                continue;
            }
        }
        let source = if is_context(&ty) {
            Source::Context
        } else if is_owned_context(&ty) {
            cx.error_at(
                &ty,
                "the request context is borrowed: take `&kit::Context` (or call `kit::Context::current()`)",
            );
            continue;
        } else if let Type::Reference(_) = ty {
            cx.error_at(
                &ty,
                "endpoint arguments must be owned types: they are decoded from the request",
            );
            continue;
        } else if let Type::ImplTrait(_) = ty {
            cx.error_at(
                &ty,
                "endpoint arguments need concrete types, not `impl Trait`",
            );
            continue;
        } else if in_path {
            if is_body {
                cx.error_at(
                    &pt.pat,
                    format!("`{name}` is a path parameter; it cannot also be #[body]"),
                );
            }
            if option_inner(&ty).is_some() {
                cx.error_at(&ty, format!("path parameter `{name}` cannot be optional"));
            }
            Source::Path
        } else if is_body {
            if let Some(route) = route {
                if !route.method.has_body() {
                    cx.error_at(
                        &pt.pat,
                        format!(
                            "a {} route has no body; use POST, PUT or PATCH for a #[body] argument",
                            route.method.variant().to_uppercase()
                        ),
                    );
                }
            }
            if args.iter().any(|a| a.source == Source::Body) {
                cx.error_at(&pt.pat, "only one argument can be #[body]");
            }
            Source::Body
        } else if route.is_some_and(|r| !r.method.has_body()) {
            Source::Query {
                optional: option_inner(&ty).is_some(),
            }
        } else {
            Source::BodyField
        };
        args.push(Arg {
            ident,
            name,
            ty,
            source,
        });
    }
    args
}
