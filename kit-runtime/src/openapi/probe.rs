//! What the document knows of one Rust type, asked of the compiler by
//! autoref specialization at the concrete type the user wrote: a type that
//! implements `JsonSchema` gets its schema and any other type the
//! unconstrained schema `{}`; a type that implements `DeserializeOwned`
//! tells how it travels in a URL and whether JSON `null` reads as it.
//! Neither ever fails to compile, so services whose types derive nothing
//! new keep building.
//!
//! Generated code writes, for a type `T`:
//!
//! ```ignore
//! use ::kit::__private::openapi::{JsonSchemaKind as _, NoJsonSchema as _, SerdeKind as _, NoSerde as _};
//! let probe = &::kit::__private::openapi::Probe::<T>::new();
//! ::kit::__private::openapi::type_info(probe.json_schema(generator), probe.serde_info())
//! ```
//!
//! `probe.json_schema(..)` finds `JsonSchemaKind` (implemented for
//! `Probe<T>` where `T: JsonSchema`, taking `&self`) before `NoJsonSchema`
//! (implemented for every `&Probe<T>`, reached only by one more autoref).

use std::marker::PhantomData;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

use crate::url::Shape;

/// A type's JSON Schema and what serde says of it; made by generated code
/// with [`type_info`].
#[derive(Clone, Debug)]
pub struct TypeInfo {
    pub(crate) schema: Schema,
    pub(crate) serde: SerdeInfo,
}

/// The function generated for each argument and result type of an HTTP
/// endpoint: registers the type's schema (and those it refers to) in the
/// generator and returns what the document needs of it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> TypeInfo;

/// What the type's `Deserialize` impl says, if it has one.
#[derive(Clone, Copy, Debug)]
pub struct SerdeInfo {
    /// How it travels in a URL (`None`: not known).
    pub(crate) shape: Option<Shape>,
    /// Whether a missing body field (read as `null`) is accepted.
    pub(crate) accepts_null: bool,
}

/// A type's [`TypeInfo`].
pub fn type_info(schema: Schema, serde: SerdeInfo) -> TypeInfo {
    TypeInfo { schema, serde }
}

/// A zero-sized stand-in for `T`, on which the kind traits are probed.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// The probe of `T`.
    pub const fn new() -> Probe<T> {
        Probe(PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Probe<T> {
        Probe::new()
    }
}

/// `T: JsonSchema`: its schema (a `$ref` to `components/schemas` for a
/// named type).
pub trait JsonSchemaKind {
    /// The schema of the probed type.
    fn json_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T: JsonSchema> JsonSchemaKind for Probe<T> {
    fn json_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// Any other type: the unconstrained schema `{}`.
pub trait NoJsonSchema {
    /// `{}`.
    fn json_schema(&self, generator: &mut SchemaGenerator) -> Schema;
}

impl<T> NoJsonSchema for &Probe<T> {
    fn json_schema(&self, _: &mut SchemaGenerator) -> Schema {
        json_schema!({})
    }
}

/// `T: DeserializeOwned`: its URL shape and whether `null` reads as it.
pub trait SerdeKind {
    /// What serde says of the probed type.
    fn serde_info(&self) -> SerdeInfo;
}

impl<T: DeserializeOwned> SerdeKind for Probe<T> {
    fn serde_info(&self) -> SerdeInfo {
        SerdeInfo {
            shape: Some(crate::url::shape::<T>()),
            accepts_null: serde_json::from_slice::<T>(b"null").is_ok(),
        }
    }
}

/// Any other type: nothing known (a required, single value).
pub trait NoSerde {
    /// Nothing known.
    fn serde_info(&self) -> SerdeInfo;
}

impl<T> NoSerde for &Probe<T> {
    fn serde_info(&self) -> SerdeInfo {
        SerdeInfo {
            shape: None,
            accepts_null: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;

    #[derive(serde::Deserialize, JsonSchema)]
    struct Derived {
        #[allow(dead_code)]
        n: u32,
    }

    fn info_of_plain(generator: &mut SchemaGenerator) -> TypeInfo {
        let probe = &Probe::<Plain>::new();
        type_info(probe.json_schema(generator), probe.serde_info())
    }

    fn info_of<T: JsonSchema + DeserializeOwned>(generator: &mut SchemaGenerator) -> TypeInfo {
        let probe = &Probe::<T>::new();
        type_info(probe.json_schema(generator), probe.serde_info())
    }

    #[test]
    fn a_type_without_derives_is_unconstrained() {
        let mut generator = SchemaGenerator::default();
        let info = info_of_plain(&mut generator);
        assert_eq!(info.schema.as_value(), &serde_json::json!({}));
        assert!(info.serde.shape.is_none());
        assert!(!info.serde.accepts_null);
    }

    #[test]
    fn a_deriving_type_gets_its_schema_and_shape() {
        let mut generator = SchemaGenerator::default();
        let info = info_of::<Derived>(&mut generator);
        assert_eq!(
            info.schema.as_value(),
            &serde_json::json!({"$ref": "#/$defs/Derived"})
        );
        assert_eq!(info.serde.shape, Some(Shape::Unsupported("a struct")));
        let option = info_of::<Option<u32>>(&mut generator);
        assert_eq!(option.serde.shape, Some(Shape::Optional));
        assert!(option.serde.accepts_null);
        let list = info_of::<Vec<String>>(&mut generator);
        assert_eq!(list.serde.shape, Some(Shape::Repeated));
        assert!(!list.serde.accepts_null);
        assert_eq!(
            info_of::<u64>(&mut generator).schema.as_value(),
            &serde_json::json!({"type": "integer", "format": "uint64", "minimum": 0})
        );
    }
}
