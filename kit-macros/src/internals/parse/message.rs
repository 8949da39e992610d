//! `#[derive(kit::Message)]` on a struct or an enum.

use darling::FromAttributes;
use syn::{Data, DeriveInput, Expr, Fields, Lit};

use super::{docs, wire_name};
use crate::internals::ast::{
    Enum, Field, Message, Newtype, Oneof, OneofVariant, Variant, VariantKind,
};
use crate::internals::attr::{FieldAttr, MessageAttr, VariantAttr};
use crate::internals::case::{screaming_case, snake_case};
use crate::internals::Ctxt;

/// What a derive input is, as protobuf.
pub(crate) enum Derived {
    Message(Message),
    Enum(Enum),
    Newtype(Newtype),
    Oneof(Oneof),
}

/// Reads the struct or enum; `None` when its shape has no protobuf form.
pub(crate) fn derive_input(cx: &mut Ctxt, input: &DeriveInput) -> Option<Derived> {
    if !input.generics.params.is_empty() {
        cx.error_at(
            &input.generics,
            "kit::Message does not support generic types",
        );
    }
    let attr = cx
        .ok(MessageAttr::from_attributes(&input.attrs))
        .unwrap_or_default();
    let proto_name = attr
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| input.ident.to_string());
    let docs = docs(&input.attrs);
    match &input.data {
        Data::Struct(s) => {
            let named = match &s.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
                    return Some(Derived::Newtype(Newtype {
                        ident: input.ident.clone(),
                        inner: unnamed.unnamed[0].ty.clone(),
                    }));
                }
                _ => {
                    cx.error_at(
                        &input.ident,
                        "kit::Message needs a struct with named fields (they name the protobuf fields), or a newtype `struct Id(T)` (it travels as its field)",
                    );
                    return None;
                }
            };
            let fields = named_fields(cx, named);
            Some(Derived::Message(Message {
                ident: input.ident.clone(),
                proto_name,
                docs,
                fields,
            }))
        }
        Data::Enum(e) if e.variants.iter().any(|v| !matches!(v.fields, Fields::Unit)) => {
            let variants = e
                .variants
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let attr = cx.ok(VariantAttr::from_attributes(&v.attrs)).unwrap_or_default();
                    let (tag, tag_span) = match attr.tag {
                        Some(t) => (*t, t.span()),
                        None => (i as u32 + 1, v.ident.span()),
                    };
                    let kind = match &v.fields {
                        Fields::Unit => VariantKind::Unit,
                        Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                            VariantKind::Newtype(u.unnamed[0].ty.clone())
                        }
                        Fields::Unnamed(_) => {
                            cx.error_at(
                                &v.ident,
                                "a variant with several unnamed fields has no protobuf form: name the fields",
                            );
                            return None;
                        }
                        Fields::Named(named) => VariantKind::Struct(named_fields(cx, named)),
                    };
                    Some(OneofVariant {
                        field: snake_case(&v.ident.to_string()),
                        ident: v.ident.clone(),
                        tag,
                        tag_span,
                        kind,
                    })
                })
                .collect();
            Some(Derived::Oneof(Oneof {
                ident: input.ident.clone(),
                proto_name,
                docs,
                variants,
            }))
        }
        Data::Enum(e) => {
            let prefix = screaming_case(&proto_name);
            let mut variants = Vec::new();
            let mut next = 0i32;
            for v in &e.variants {
                if let Some(attr) = cx.ok(VariantAttr::from_attributes(&v.attrs)) {
                    if let Some(tag) = attr.tag {
                        cx.error_span(
                            tag.span(),
                            "a fieldless enum's values are numbered by discriminant: write `Variant = N`",
                        );
                    }
                }
                let number = match &v.discriminant {
                    Some((_, expr)) => discriminant(expr).unwrap_or_else(|| {
                        cx.error_at(expr, "enum discriminants must be integer literals");
                        next
                    }),
                    None => next,
                };
                next = number.wrapping_add(1);
                variants.push(Variant {
                    proto_name: format!("{prefix}_{}", screaming_case(&v.ident.to_string())),
                    ident: v.ident.clone(),
                    number,
                });
            }
            Some(Derived::Enum(Enum {
                ident: input.ident.clone(),
                proto_name,
                docs,
                variants,
            }))
        }
        Data::Union(_) => {
            cx.error_at(
                &input.ident,
                "kit::Message works on structs and enums, not unions",
            );
            None
        }
    }
}

/// The named fields of a struct or struct variant, numbered by position
/// unless `#[kit(tag = N)]`.
fn named_fields(cx: &mut Ctxt, named: &syn::FieldsNamed) -> Vec<Field> {
    named
        .named
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let ident = f.ident.clone()?;
            let attr = cx
                .ok(FieldAttr::from_attributes(&f.attrs))
                .unwrap_or_default();
            let (tag, tag_span) = match attr.tag {
                Some(t) => (*t, t.span()),
                None => (i as u32 + 1, ident.span()),
            };
            Some(Field {
                name: wire_name(&ident),
                ident,
                ty: f.ty.clone(),
                tag,
                tag_span,
            })
        })
        .collect()
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
