//! `#[derive(kit::Message)]` on a struct or an enum.

use darling::FromAttributes;
use syn::{Data, DeriveInput, Expr, Fields, Lit};

use super::{docs, wire_name};
use crate::internals::ast::{Enum, Field, Message, Variant};
use crate::internals::attr::{FieldAttr, MessageAttr, VariantAttr};
use crate::internals::case::screaming_case;
use crate::internals::Ctxt;

/// What a derive input is, as protobuf.
pub(crate) enum Derived {
    Message(Message),
    Enum(Enum),
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
            let Fields::Named(named) = &s.fields else {
                cx.error_at(
                    &input.ident,
                    "kit::Message needs a struct with named fields (they name the protobuf fields)",
                );
                return None;
            };
            let fields = named
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
                .collect();
            Some(Derived::Message(Message {
                ident: input.ident.clone(),
                proto_name,
                docs,
                fields,
            }))
        }
        Data::Enum(e) => {
            let prefix = screaming_case(&proto_name);
            let mut variants = Vec::new();
            let mut next = 0i32;
            for v in &e.variants {
                cx.ok(VariantAttr::from_attributes(&v.attrs));
                if !matches!(v.fields, Fields::Unit) {
                    cx.error_at(
                        &v.ident,
                        "kit::Message enums must be fieldless (protobuf oneof is not supported yet)",
                    );
                    continue;
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
