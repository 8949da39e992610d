//! Syntax to model. Each function reads one piece of syntax, records every
//! mistake in the [`Ctxt`](super::Ctxt) with its span and returns what it
//! could make of the rest; nothing here returns early past the context.

mod endpoint;
mod message;
mod service;

pub(crate) use message::{derive_input, Derived};
pub(crate) use service::service;

use syn::ext::IdentExt;
use syn::{Attribute, GenericArgument, Ident, PathArguments, ReturnType, Type};

use super::ast::Output;

/// The doc comment of an item, as one string.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
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

/// The name an identifier has outside Rust: `r#type` is `type`.
pub(crate) fn wire_name(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// `T` of `Option<T>`, written as such.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let a = generic_args(ty, "Option")?;
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// The `<..>` of a path type whose last segment is `name` (`Option<T>`,
/// `kit::Streaming<T>`).
fn generic_args<'a>(ty: &'a Type, name: &str) -> Option<&'a syn::AngleBracketedGenericArguments> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) => Some(a),
        _ => None,
    }
}

/// `Context`, `kit::Context` written without a reference.
pub(crate) fn is_owned_context(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    p.qself.is_none()
        && p.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_empty())
}

/// `&Context`, `&kit::Context`.
pub(crate) fn is_context(ty: &Type) -> bool {
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

/// The success type and fallibility of a method's return type.
///
/// This is the one thing the macro reads from a type's spelling, because a
/// client method must name the success type in its signature: a path whose
/// last segment is `Result` or ends in `Result` (`io::Result<T>`,
/// `SvcResult<T>`) with generic arguments is fallible, its first argument
/// the success type; the compiler then checks that it is a `Result` whose
/// error converts into `kit::Error`. Any other alias of a `Result`: write
/// `Result<..>` out.
pub(crate) fn output(ret: &ReturnType) -> Output {
    use syn::spanned::Spanned;
    let ty = match ret {
        ReturnType::Default => {
            return Output {
                ok: syn::parse_quote!(()),
                fallible: false,
                stream: false,
                span: proc_macro2::Span::call_site(),
            }
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let span = ty.span();
    if let Some(item) = stream_item(ty) {
        let (ok, fallible) = match result_ok(&item) {
            Some(ok) => (ok, true),
            None => (item, false),
        };
        return Output {
            ok,
            fallible,
            stream: true,
            span,
        };
    }
    if let Some(item) = streaming_item(ty) {
        return Output {
            ok: item,
            fallible: true,
            stream: true,
            span,
        };
    }
    match result_ok(ty) {
        Some(ok) => Output {
            ok,
            fallible: true,
            stream: false,
            span,
        },
        None => Output {
            ok: ty.clone(),
            fallible: false,
            stream: false,
            span,
        },
    }
}

/// The success type of a type spelled as a `Result` (see [`output`]).
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match a.args.first() {
        Some(GenericArgument::Type(ok)) => Some(ok.clone()),
        _ => None,
    }
}

/// `X` of `impl Stream<Item = X>` (any path ending in `Stream`, other
/// bounds such as `Send` allowed).
fn stream_item(ty: &Type) -> Option<Type> {
    let Type::ImplTrait(it) = ty else { return None };
    it.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Stream" {
            return None;
        }
        let PathArguments::AngleBracketed(a) = &last.arguments else {
            return None;
        };
        a.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(at) if at.ident == "Item" => Some(at.ty.clone()),
            _ => None,
        })
    })
}

/// `T` of `kit::Streaming<T>` / `Streaming<T>`.
pub(crate) fn streaming_item(ty: &Type) -> Option<Type> {
    if matches!(ty, Type::Path(p) if p.qself.is_some()) {
        return None;
    }
    let a = generic_args(ty, "Streaming")?;
    match (a.args.len(), a.args.first()) {
        (1, Some(GenericArgument::Type(t))) => Some(t.clone()),
        _ => None,
    }
}
