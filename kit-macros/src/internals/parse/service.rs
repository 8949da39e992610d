//! `#[kit::service(...)] impl Type { ... }`.

use darling::ast::NestedMeta;
use darling::FromMeta;
use proc_macro2::TokenStream;
use syn::{FnArg, ImplItem, ItemImpl, Type};

use super::endpoint::{endpoint, take_endpoint_attr};
use super::{docs, output};
use crate::internals::ast::{Service, Stub};
use crate::internals::attr::ServiceArgs;
use crate::internals::case::snake_case;
use crate::internals::duration::parse_timeout;
use crate::internals::limits::positive;
use crate::internals::parse::is_context;
use crate::internals::Ctxt;

/// Reads the impl block and its attribute. Strips kit's helper attributes
/// (`#[endpoint]`, `#[body]`) from `item` as it reads them, so the impl can
/// be re-emitted whatever else went wrong. `None` when the impl is not for
/// a named type (then nothing but the impl can be emitted).
pub(crate) fn service(cx: &mut Ctxt, args: TokenStream, item: &mut ItemImpl) -> Option<Service> {
    let service_args = cx
        .ok(NestedMeta::parse_meta_list(args)
            .map_err(darling::Error::from)
            .and_then(|list| ServiceArgs::from_list(&list)))
        .unwrap_or_default();
    if let Some(grpc) = &service_args.defaults.grpc {
        if grpc.is_explicit() {
            cx.error_span(
                grpc.span(),
                "`grpc = \"...\"` names one method; on the service write plain `grpc`",
            );
        }
    }
    if let Some(problem) = unsupported_impl(item) {
        let (node, message) = problem;
        cx.error_at(&node, message);
        strip_helpers(item);
        return None;
    }
    let type_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let Some(type_ident) = type_ident else {
        cx.error_at(
            &item.self_ty,
            "#[kit::service] needs a named type, like `impl MyService { ... }`",
        );
        strip_helpers(item);
        return None;
    };
    let docs = docs(&item.attrs);
    let self_ty = (*item.self_ty).clone();
    let defaults = &service_args.defaults;
    let default_timeout = defaults.timeout.as_ref().and_then(|t| {
        cx.ok(parse_timeout(&t.value()).map_err(|e| darling::Error::custom(e).with_span(t)))
    });

    let concurrency = positive(cx, service_args.concurrency.as_ref(), "concurrency");

    let mut endpoints = Vec::new();
    let mut stubs = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let attr = take_endpoint_attr(cx, method);
        if let Some(attr) = attr {
            stubs.push(stub(method));
            if let Some(e) = endpoint(cx, method, &attr, defaults, default_timeout) {
                endpoints.push(e);
            }
        }
        strip_body_attrs(method);
    }
    if stubs.is_empty() {
        cx.error_at(
            &item.self_ty,
            "this service has no endpoints: mark methods with #[endpoint(http = \"POST /path\")]",
        );
    }
    let name = service_args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| snake_case(&type_ident.to_string()));
    let package = service_args
        .package
        .as_ref()
        .map(|p| p.value())
        .unwrap_or_else(|| name.clone());
    Some(Service {
        self_ty,
        type_ident,
        name,
        package,
        package_span: service_args.package.as_ref().map(|p| p.span()),
        docs,
        concurrency,
        endpoints,
        stubs,
    })
}

/// What makes an impl block one kit cannot serve at all: a trait impl, a
/// generic or `unsafe` impl.
fn unsupported_impl(item: &ItemImpl) -> Option<(TokenStream, &'static str)> {
    use quote::ToTokens;
    if let Some((_, path, _)) = &item.trait_ {
        return Some((path.to_token_stream(), "#[kit::service] goes on an inherent impl block, not a trait impl: `impl MyService { ... }`"));
    }
    if !item.generics.params.is_empty() {
        return Some((
            item.generics.to_token_stream(),
            "#[kit::service] does not support generic impl blocks; use a concrete type",
        ));
    }
    if let Some(w) = &item.generics.where_clause {
        return Some((
            w.to_token_stream(),
            "#[kit::service] does not support `where` clauses on the impl block",
        ));
    }
    if let Some(unsafety) = &item.unsafety {
        return Some((
            unsafety.to_token_stream(),
            "#[kit::service] goes on a safe impl block",
        ));
    }
    None
}

/// Removes kit's helper attributes, so an impl the macro gives up on
/// still compiles as the user wrote it.
fn strip_helpers(item: &mut ItemImpl) {
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            method.attrs.retain(|a| !a.path().is_ident("endpoint"));
            strip_body_attrs(method);
        }
    }
}

fn strip_body_attrs(method: &mut syn::ImplItemFn) {
    for input in &mut method.sig.inputs {
        if let FnArg::Typed(pt) = input {
            pt.attrs.retain(|a| !a.path().is_ident("body"));
        }
    }
}

/// The client method a `#[endpoint]` method would get, read leniently.
fn stub(method: &syn::ImplItemFn) -> Stub {
    let params = method
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pt) => match &*pt.pat {
                syn::Pat::Ident(pi) if !is_context(&pt.ty) => {
                    Some((pi.ident.clone(), (*pt.ty).clone()))
                }
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    Stub {
        ident: method.sig.ident.clone(),
        generics: method.sig.generics.clone(),
        params,
        ok: {
            let out = output(&method.sig.output);
            let ok = out.ok;
            if out.stream {
                syn::parse_quote!(::kit::Streaming<#ok>)
            } else {
                ok
            }
        },
    }
}
