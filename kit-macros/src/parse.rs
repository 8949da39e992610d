//! From the impl block to the [`model`](crate::model), collecting every
//! mistake with its span.

use std::collections::HashMap;

use darling::ast::NestedMeta;
use darling::{Error, FromMeta};
use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, Pat, PathArguments,
    ReturnType, Type,
};

use crate::attr::{EndpointArgs, EndpointKeys, ServiceArgs};
use crate::duration::parse_timeout;
use crate::model::{Arg, Endpoint, Output, Service, Source};
use crate::route::parse_route;

/// Names the generated client already uses.
const RESERVED: &[&str] = &["connect", "builder", "from", "into", "clone"];

pub fn service(args: TokenStream, item: &mut ItemImpl) -> darling::Result<Service> {
    let mut errors = Error::accumulator();
    let service_args = errors
        .handle(
            NestedMeta::parse_meta_list(args)
                .map_err(Error::from)
                .and_then(|list| ServiceArgs::from_list(&list)),
        )
        .unwrap_or_default();
    if let Some(grpc) = &service_args.defaults.grpc {
        if grpc.is_explicit() {
            errors.push(
                Error::custom(
                    "`grpc = \"...\"` names one method; on the service write plain `grpc`",
                )
                .with_span(&grpc.span()),
            );
        }
    }

    if let Some((_, path, _)) = &item.trait_ {
        errors.push(
            Error::custom("#[kit::service] goes on an inherent impl block, not a trait impl")
                .with_span(path),
        );
        return Err(errors
            .finish()
            .err()
            .unwrap_or_else(|| Error::custom("trait impl")));
    }
    if !item.generics.params.is_empty() {
        errors.push(
            Error::custom(
                "#[kit::service] does not support generic impl blocks yet; use a concrete type",
            )
            .with_span(&item.generics),
        );
    }
    let type_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let Some(type_ident) = type_ident else {
        return Err(Error::custom(
            "#[kit::service] needs a named type, like `impl MyService { ... }`",
        )
        .with_span(&item.self_ty));
    };
    let name = service_args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| snake_case(&type_ident.to_string()));
    let service_timeout = service_args.defaults.timeout.as_ref().and_then(|t| {
        errors.handle(parse_timeout(&t.value()).map_err(|e| Error::custom(e).with_span(t)))
    });

    let mut endpoints = Vec::new();
    let mut saw_endpoint = false;
    let mut routes: HashMap<(String, String), ()> = HashMap::new();
    let mut grpc_names: HashMap<String, ()> = HashMap::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let Some(attr) = take_endpoint_attr(method, &mut errors) else {
            strip_arg_attrs(method);
            continue;
        };
        saw_endpoint = true;
        let endpoint = endpoint(
            method,
            &attr,
            &service_args.defaults,
            service_timeout,
            &mut errors,
        );
        strip_arg_attrs(method);
        let Some(endpoint) = endpoint else { continue };
        if let Some(route) = &endpoint.route {
            let key = (format!("{:?}", route.method), normalize(&route.path));
            if routes.insert(key, ()).is_some() {
                errors.push(
                    Error::custom(format!(
                        "duplicate route: another endpoint already serves `{}`",
                        route_text(&attr)
                    ))
                    .with_span(&http_span(&attr)),
                );
            }
        }
        if let Some(method) = &endpoint.grpc {
            if grpc_names.insert(method.clone(), ()).is_some() {
                errors.push(
                    Error::custom(format!("two endpoints are gRPC method `{method}`; name one with grpc = \"OtherName\""))
                        .with_span(&endpoint.ident),
                );
            }
        }
        endpoints.push(endpoint);
    }
    if !saw_endpoint {
        errors.push(Error::custom("this service has no endpoints: mark methods with #[endpoint(http = \"POST /path\")]").with_span(&item.self_ty));
    }
    let package = service_args
        .package
        .as_ref()
        .map(|p| p.value())
        .unwrap_or_else(|| name.clone());
    if let Some(p) = &service_args.package {
        if !endpoints.iter().any(|e: &Endpoint| e.grpc.is_some()) && !endpoints.is_empty() {
            errors.push(Error::custom("`package` names the protobuf package, but no endpoint is served over gRPC: add `grpc` or remove `package`").with_span(p));
        }
        let valid = !p.value().is_empty()
            && p.value().split('.').all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            errors.push(
                Error::custom("package must be dot-separated identifiers, like \"strings.v1\"")
                    .with_span(p),
            );
        }
    }
    errors.finish_with(Service {
        self_ty: (*item.self_ty).clone(),
        type_ident,
        package,
        name,
        docs: docs(&item.attrs),
        endpoints,
    })
}

/// Removes `#[endpoint]` from the method and parses it.
fn take_endpoint_attr(
    method: &mut ImplItemFn,
    errors: &mut darling::error::Accumulator,
) -> Option<Attribute> {
    let mut found = None;
    let mut kept = Vec::new();
    for attr in method.attrs.drain(..) {
        if attr.path().is_ident("endpoint") {
            if found.is_some() {
                errors.push(
                    Error::custom("a method takes one #[endpoint(...)] attribute").with_span(&attr),
                );
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

fn strip_arg_attrs(method: &mut ImplItemFn) {
    for input in &mut method.sig.inputs {
        if let FnArg::Typed(pt) = input {
            pt.attrs.retain(|a| !a.path().is_ident("body"));
        }
    }
}

fn endpoint(
    method: &ImplItemFn,
    attr: &Attribute,
    defaults: &EndpointKeys,
    service_timeout: Option<std::time::Duration>,
    errors: &mut darling::error::Accumulator,
) -> Option<Endpoint> {
    let args = match &attr.meta {
        syn::Meta::Path(_) => EndpointArgs::default(),
        meta => errors.handle(EndpointArgs::from_meta(meta))?,
    };
    let sig = &method.sig;
    let ident = sig.ident.clone();
    if RESERVED.contains(&ident.to_string().as_str()) {
        errors.push(
            Error::custom(format!(
                "an endpoint cannot be named `{ident}`: the generated client uses that name"
            ))
            .with_span(&ident),
        );
    }
    if sig.asyncness.is_none() {
        errors.push(Error::custom("endpoints must be `async fn`").with_span(&sig.fn_token));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(
            Error::custom("endpoints cannot be generic: the wire types must be concrete")
                .with_span(&sig.generics),
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => {
            errors.push(
                Error::custom("endpoints take `&self` (the service is shared between requests)")
                    .with_span(r),
            );
        }
        _ => errors.push(
            Error::custom("endpoints take `&self` as their first argument").with_span(&sig.ident),
        ),
    }
    let route = args.http.as_ref().and_then(|lit| {
        errors.handle(parse_route(&lit.value()).map_err(|e| Error::custom(e).with_span(lit)))
    });
    let grpc = args
        .keys
        .grpc
        .as_ref()
        .or(defaults.grpc.as_ref())
        .map(|g| match g.as_ref() {
            darling::util::Override::Explicit(name) => name.value(),
            darling::util::Override::Inherit => pascal_case(&ident.to_string()),
        });
    if let Some(name) = &grpc {
        let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            let span = args
                .keys
                .grpc
                .as_ref()
                .map(|g| g.span())
                .unwrap_or_else(|| attr.span());
            errors.push(
                Error::custom(format!("`{name}` is not a valid gRPC method name")).with_span(&span),
            );
        }
    }
    if args.http.is_none() && grpc.is_none() {
        errors.push(
            Error::custom(
                "this endpoint has no transport: add `http = \"METHOD /path\"`, `grpc`, or both",
            )
            .with_span(&attr.path()),
        );
    }
    let timeout = match &args.keys.timeout {
        Some(t) => {
            errors.handle(parse_timeout(&t.value()).map_err(|e| Error::custom(e).with_span(t)))
        }
        None => service_timeout,
    };
    let retry = args.keys.retry.or(defaults.retry).map(|r| *r).unwrap_or(0);
    let idempotent = args.keys.idempotent.is_present() || defaults.idempotent.is_present();

    let mut arg_list = Vec::new();
    let mut whole_body = None;
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        let Pat::Ident(pi) = &*pt.pat else {
            errors.push(
                Error::custom(
                    "endpoint arguments must be plain names (they name the request fields)",
                )
                .with_span(&pt.pat),
            );
            continue;
        };
        if pi.by_ref.is_some() || pi.subpat.is_some() {
            errors.push(Error::custom("endpoint arguments must be plain names").with_span(&pt.pat));
            continue;
        }
        let ident = pi.ident.clone();
        let ty = (*pt.ty).clone();
        let is_body = pt.attrs.iter().any(|a| a.path().is_ident("body"));
        let name = ident.to_string();
        let source = if is_context(&ty) {
            Source::Context
        } else if let Type::Reference(_) = ty {
            errors.push(
                Error::custom(
                    "endpoint arguments must be owned types: they are decoded from the request",
                )
                .with_span(&ty),
            );
            continue;
        } else if let Type::ImplTrait(_) = ty {
            errors.push(
                Error::custom("endpoint arguments need concrete types, not `impl Trait`")
                    .with_span(&ty),
            );
            continue;
        } else if route
            .as_ref()
            .is_some_and(|r| r.params().any(|p| p == name))
        {
            if is_body {
                errors.push(
                    Error::custom(format!(
                        "`{name}` is a path parameter; it cannot also be #[body]"
                    ))
                    .with_span(&pt.pat),
                );
            }
            if option_inner(&ty).is_some() {
                errors.push(
                    Error::custom(format!("path parameter `{name}` cannot be optional"))
                        .with_span(&ty),
                );
            }
            Source::Path
        } else if is_body {
            if let Some(route) = &route {
                if !route.method.has_body() {
                    errors.push(
                        Error::custom(format!(
                            "a {} route has no body; use POST, PUT or PATCH for a #[body] argument",
                            format!("{:?}", route.method).to_uppercase()
                        ))
                        .with_span(&pt.pat),
                    );
                }
            }
            if whole_body.replace(ident.clone()).is_some() {
                errors.push(Error::custom("only one argument can be #[body]").with_span(&pt.pat));
            }
            Source::Body
        } else if route.as_ref().is_some_and(|r| !r.method.has_body()) {
            Source::Query {
                optional: option_inner(&ty).is_some(),
            }
        } else {
            Source::BodyField
        };
        arg_list.push(Arg { ident, ty, source });
    }
    if let Some(body) = &whole_body {
        if let Some(field) = arg_list.iter().find(|a| a.source == Source::BodyField) {
            errors.push(
                Error::custom(format!("`{body}` is #[body] and takes the whole body, so `{}` has nowhere to go; make it a path parameter or a field of the body type", field.ident))
                    .with_span(&field.ident),
            );
        }
    }
    if let Some(route) = &route {
        for param in route.params() {
            if !arg_list.iter().any(|a| a.ident == param) {
                errors.push(
                    Error::custom(format!(
                        "path parameter `{{{param}}}` has no argument named `{param}`"
                    ))
                    .with_span(args.http.as_ref()?),
                );
            }
        }
    }
    Some(Endpoint {
        ident,
        docs: docs(&method.attrs),
        route,
        grpc,
        timeout,
        retry,
        idempotent,
        args: arg_list,
        output: output(&sig.output),
    })
}

fn output(ret: &ReturnType) -> Output {
    let ty = match ret {
        ReturnType::Default => {
            return Output {
                ok: syn::parse_quote!(()),
                fallible: false,
            }
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Result" {
                if let PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(GenericArgument::Type(ok)) = a.args.first() {
                        return Output {
                            ok: ok.clone(),
                            fallible: true,
                        };
                    }
                }
            }
        }
    }
    Output {
        ok: ty.clone(),
        fallible: false,
    }
}

/// `&Context`, `&kit::Context`.
fn is_context(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    let Type::Path(p) = &*r.elem else {
        return false;
    };
    r.mutability.is_none()
        && p.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_empty())
}

/// `T` of `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

pub fn docs(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).to_string())
        .collect();
    lines.join("\n").trim().to_string()
}

/// `/a/{x}` and `/a/{y}` are the same route to the router.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn http_span(attr: &Attribute) -> proc_macro2::Span {
    match EndpointArgs::from_meta(&attr.meta) {
        Ok(EndpointArgs {
            http: Some(lit), ..
        }) => lit.span(),
        _ => attr.span(),
    }
}

fn route_text(attr: &Attribute) -> String {
    match EndpointArgs::from_meta(&attr.meta) {
        Ok(EndpointArgs {
            http: Some(lit), ..
        }) => lit.value(),
        _ => String::new(),
    }
}

/// `get_item` -> `GetItem`.
pub fn pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_type_names() {
        assert_eq!(snake_case("StringService"), "string_service");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Strings"), "strings");
        assert_eq!(snake_case("V2Api"), "v2_api");
    }

    #[test]
    fn normalizes_param_names() {
        assert_eq!(normalize("/a/{x}/b"), normalize("/a/{y}/b"));
        assert_ne!(normalize("/a/{x}"), normalize("/a/x"));
    }
}
