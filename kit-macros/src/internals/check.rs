//! The rules that span more than one item: duplicate routes and gRPC
//! methods in a service, path parameters and their arguments, field
//! numbers in a message, enum values.

use std::collections::{BTreeMap, HashMap};

use super::ast::{Endpoint, Enum, Message, Oneof, Service, Source, VariantKind};
use super::route::Segment;
use super::Ctxt;

pub(crate) fn service(cx: &mut Ctxt, service: &Service) {
    let mut routes = HashMap::new();
    let mut grpc_names = HashMap::new();
    for e in &service.endpoints {
        endpoint(cx, e);
        if let Some(http) = &e.http {
            let key = (http.route.method, normalize(&http.route.segments));
            if routes.insert(key, ()).is_some() {
                cx.error_span(
                    http.span,
                    format!(
                        "duplicate route: another endpoint already serves `{} {}`",
                        http.route.method.variant().to_uppercase(),
                        http.route.path
                    ),
                );
            }
        }
        if let Some(grpc) = &e.grpc {
            if grpc_names.insert(grpc.method.clone(), ()).is_some() {
                cx.error_at(
                    &e.ident,
                    format!(
                        "two endpoints are gRPC method `{}`; name one with grpc = \"OtherName\"",
                        grpc.method
                    ),
                );
            }
        }
    }
    if let Some(span) = service.package_span {
        if !service.has_grpc() && !service.endpoints.is_empty() {
            cx.error_span(span, "`package` names the protobuf package, but no endpoint is served over gRPC: add `grpc` or remove `package`");
        }
        let valid = !service.package.is_empty()
            && service.package.split('.').all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            cx.error_span(
                span,
                "package must be dot-separated identifiers, like \"strings.v1\"",
            );
        }
    }
}

/// The rules between the arguments of one endpoint and its route.
fn endpoint(cx: &mut Ctxt, e: &Endpoint) {
    if let Some(body) = e.args.iter().find(|a| a.source == Source::Body) {
        if let Some(field) = e.args.iter().find(|a| a.source == Source::BodyField) {
            cx.error_at(
                &field.ident,
                format!(
                    "`{}` is #[body] and takes the whole body, so `{}` has nowhere to go; make it a path parameter or a field of the body type",
                    body.ident, field.ident
                ),
            );
        }
    }
    if let Some(http) = &e.http {
        for param in http.route.params() {
            if !e.args.iter().any(|a| a.name == param) {
                cx.error_span(
                    http.span,
                    format!("path parameter `{{{param}}}` has no argument named `{param}`"),
                );
            }
        }
    }
}

/// `/a/{x}` and `/a/{y}` are the same route to the router.
fn normalize(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => l.as_str(),
            Segment::Param(_) => "{}",
        })
        .collect()
}

/// Field numbers: in protobuf's range and each used once.
pub(crate) fn message(cx: &mut Ctxt, message: &Message) {
    numbers(
        cx,
        message
            .fields
            .iter()
            .map(|f| (f.tag, f.tag_span, f.ident.to_string())),
    );
}

/// The same for the variants of an enum with data, and the fields of each.
pub(crate) fn oneof(cx: &mut Ctxt, oneof: &Oneof) {
    numbers(
        cx,
        oneof
            .variants
            .iter()
            .map(|v| (v.tag, v.tag_span, v.ident.to_string())),
    );
    for v in &oneof.variants {
        if let VariantKind::Struct(fields) = &v.kind {
            numbers(
                cx,
                fields
                    .iter()
                    .map(|f| (f.tag, f.tag_span, f.ident.to_string())),
            );
        }
    }
}

fn numbers(cx: &mut Ctxt, tags: impl Iterator<Item = (u32, proc_macro2::Span, String)>) {
    let mut seen: BTreeMap<u32, String> = BTreeMap::new();
    for (tag, span, name) in tags {
        if tag == 0 || tag > 536_870_911 || (19_000..=19_999).contains(&tag) {
            cx.error_span(
                span,
                format!(
                    "field number {tag} is not allowed: use 1 to 536870911, except 19000 to 19999"
                ),
            );
        }
        if let Some(other) = seen.insert(tag, name) {
            cx.error_span(
                span,
                format!("field number {tag} is already used by `{other}`"),
            );
        }
    }
}

/// An enum needs a value numbered 0 (its default). (Rust itself refuses
/// two variants with one discriminant.)
pub(crate) fn enumeration(cx: &mut Ctxt, e: &Enum) {
    if !e.variants.iter().any(|v| v.number == 0) {
        cx.error_at(
            &e.ident,
            "a protobuf enum needs a variant numbered 0 (its default)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internals::route::parse_route;

    #[test]
    fn normalizes_param_names() {
        let a = parse_route("GET /a/{x}/b").unwrap();
        let b = parse_route("GET /a/{y}/b").unwrap();
        let c = parse_route("GET /a/x/b").unwrap();
        assert_eq!(normalize(&a.segments), normalize(&b.segments));
        assert_ne!(normalize(&a.segments), normalize(&c.segments));
    }
}
