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
                span: proc_macro2::Span::call_site(),
            }
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let span = ty.span();
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident.to_string().ends_with("Result") {
                if let PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(GenericArgument::Type(ok)) = a.args.first() {
                        return Output {
                            ok: ok.clone(),
                            fallible: true,
                            span,
                        };
                    }
                }
            }
        }
    }
    Output {
        ok: ty.clone(),
        fallible: false,
        span,
    }
}
