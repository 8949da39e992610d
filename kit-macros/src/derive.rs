//! `#[derive(kit::Message)]`: parse the struct or enum into a message or
//! enum model, validating field numbers.

use std::collections::BTreeMap;

use darling::Error;
use proc_macro2::TokenStream;
use syn::{Data, DeriveInput, Expr, Fields, Lit};

use crate::expand::message::{expand_enum, expand_message, EnumModel, MessageField, MessageModel};
use crate::parse::docs;

pub fn message(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    match model(&input) {
        Ok(Model::Message(m)) => expand_message(&m),
        Ok(Model::Enum(e)) => expand_enum(&e),
        Err(e) => e.write_errors(),
    }
}

enum Model {
    Message(MessageModel),
    Enum(EnumModel),
}

/// `#[kit(name = "...")]` / `#[kit(tag = N)]`.
#[derive(Default)]
struct KitAttr {
    name: Option<String>,
    tag: Option<(u32, proc_macro2::Span)>,
}

fn kit_attr(attrs: &[syn::Attribute], errors: &mut darling::error::Accumulator) -> KitAttr {
    let mut out = KitAttr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("kit")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let s: syn::LitStr = meta.value()?.parse()?;
                out.name = Some(s.value());
                Ok(())
            } else if meta.path.is_ident("tag") {
                let n: syn::LitInt = meta.value()?.parse()?;
                out.tag = Some((n.base10_parse()?, n.span()));
                Ok(())
            } else {
                Err(meta.error("unknown key; #[kit(...)] takes `tag = N` on fields and `name = \"...\"` on the type"))
            }
        });
        if let Err(e) = result {
            errors.push(e.into());
        }
    }
    out
}

fn model(input: &DeriveInput) -> darling::Result<Model> {
    let mut errors = Error::accumulator();
    if !input.generics.params.is_empty() {
        errors.push(
            Error::custom("kit::Message does not support generic types").with_span(&input.generics),
        );
    }
    let attr = kit_attr(&input.attrs, &mut errors);
    let proto_name = attr.name.unwrap_or_else(|| input.ident.to_string());
    let doc = docs(&input.attrs);
    let model = match &input.data {
        Data::Struct(s) => {
            let Fields::Named(named) = &s.fields else {
                errors.push(
                    Error::custom("kit::Message needs a struct with named fields (they name the protobuf fields)")
                        .with_span(&input.ident),
                );
                return Err(fail(errors));
            };
            let mut fields = Vec::new();
            let mut seen: BTreeMap<u32, String> = BTreeMap::new();
            for (i, f) in named.named.iter().enumerate() {
                let Some(ident) = f.ident.clone() else {
                    continue;
                };
                let fa = kit_attr(&f.attrs, &mut errors);
                let (tag, span) = fa.tag.unwrap_or((i as u32 + 1, ident.span()));
                if tag == 0 || tag > 536_870_911 || (19_000..=19_999).contains(&tag) {
                    errors.push(Error::custom(format!("field number {tag} is not allowed: use 1 to 536870911, except 19000 to 19999")).with_span(&span));
                }
                if let Some(other) = seen.insert(tag, ident.to_string()) {
                    errors.push(
                        Error::custom(format!("field number {tag} is already used by `{other}`"))
                            .with_span(&span),
                    );
                }
                fields.push(MessageField {
                    ident,
                    ty: f.ty.clone(),
                    tag,
                });
            }
            Model::Message(MessageModel {
                ident: input.ident.clone(),
                proto_name,
                doc,
                fields,
            })
        }
        Data::Enum(e) => {
            let prefix = screaming(&proto_name);
            let mut variants = Vec::new();
            let mut next = 0i32;
            for v in &e.variants {
                if !matches!(v.fields, Fields::Unit) {
                    errors.push(Error::custom("kit::Message enums must be fieldless (protobuf oneof is not supported yet)").with_span(&v.ident));
                    continue;
                }
                let number = match &v.discriminant {
                    Some((_, expr)) => match discriminant(expr) {
                        Some(n) => n,
                        None => {
                            errors.push(
                                Error::custom("enum discriminants must be integer literals")
                                    .with_span(expr),
                            );
                            next
                        }
                    },
                    None => next,
                };
                next = number.wrapping_add(1);
                variants.push((
                    v.ident.clone(),
                    format!("{prefix}_{}", screaming(&v.ident.to_string())),
                    number,
                ));
            }
            if !variants.iter().any(|(_, _, n)| *n == 0) {
                errors.push(
                    Error::custom("a protobuf enum needs a variant numbered 0 (its default)")
                        .with_span(&input.ident),
                );
            }
            Model::Enum(EnumModel {
                ident: input.ident.clone(),
                proto_name,
                doc,
                variants,
            })
        }
        Data::Union(_) => {
            errors.push(
                Error::custom("kit::Message works on structs and enums, not unions")
                    .with_span(&input.ident),
            );
            return Err(fail(errors));
        }
    };
    errors.finish_with(model)
}

/// Finishes an accumulator that holds at least one error.
fn fail(errors: darling::error::Accumulator) -> Error {
    match errors.finish() {
        Err(e) => e,
        Ok(()) => Error::custom("invalid kit::Message"),
    }
}

fn discriminant(expr: &Expr) -> Option<i32> {
    match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => discriminant(&u.expr).map(|n| -n),
        _ => None,
    }
}

/// `HttpStatus` -> `HTTP_STATUS`.
fn screaming(name: &str) -> String {
    crate::parse::snake_case(name).to_uppercase()
}
