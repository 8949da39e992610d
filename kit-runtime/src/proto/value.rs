//! A message field's Rust type decides its cardinality, and the compiler
//! decides which: [`FieldValue`] is implemented for every [`ProtoField`]
//! (a plain field), for `Option<T>` (proto3 `optional`), for `Vec<T>`
//! (`repeated`; `Vec<u8>` is `bytes`) and for `HashMap`/`BTreeMap` (`map`).
//! Generated message code calls `FieldValue` for every field whatever its
//! type, so neither the macro nor a type's spelling picks the encoding.

use std::collections::{BTreeMap, HashMap};

use bytes::{Buf, BufMut};
use prost::encoding::WireType;

use super::field::{map, optional, repeated, singular, ProtoMap};
use super::schema::{FieldType, Label, Schema};
use super::{DecodeError, Depth, ProtoField};

/// The Rust type of a message field: a protobuf type, or `Option`, `Vec` or
/// a map of protobuf types.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a protobuf field",
    label = "not a protobuf type",
    note = "supported: bool, i32, i64, u32, u64, i8, i16, u8 and u16 (sent as 32-bit), f32, f64, String, Vec<u8>, bytes::Bytes, kit::proto::{{Sint32, Sint64, Fixed32, Fixed64, Sfixed32, Sfixed64}}, std::time::{{Duration, SystemTime}}, types with #[derive(kit::Message)], and Option, Vec, HashMap or BTreeMap of those"
)]
pub trait FieldValue: Sized {
    /// The field's type and cardinality in a schema.
    fn field_schema(schema: &mut Schema) -> (FieldType, Label);
    /// The value of a field that is absent from the wire.
    fn field_default() -> Self;
    /// Writes the field (nothing when it is absent or at its default).
    fn field_encode(&self, tag: u32, buf: &mut impl BufMut);
    /// The length of [`FieldValue::field_encode`]'s output.
    fn field_len(&self, tag: u32) -> usize;
    /// Merges one occurrence of the field.
    fn field_merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError>;
}

/// A [`ProtoField`] that may be the element of a `repeated` field: every
/// one but `u8`, whose `Vec<u8>` is `bytes`. Implemented by kit for its
/// types and by `#[derive(kit::Message)]`.
#[doc(hidden)]
pub trait Repeatable: ProtoField {}

impl<T: ProtoField> FieldValue for T {
    fn field_schema(schema: &mut Schema) -> (FieldType, Label) {
        singular::schema::<T>(schema)
    }
    fn field_default() -> Self {
        T::proto_default()
    }
    fn field_encode(&self, tag: u32, buf: &mut impl BufMut) {
        singular::encode(tag, self, buf)
    }
    fn field_len(&self, tag: u32) -> usize {
        singular::len(tag, self)
    }
    fn field_merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        singular::merge(wire_type, self, buf, depth)
    }
}

impl<T: ProtoField> FieldValue for Option<T> {
    fn field_schema(schema: &mut Schema) -> (FieldType, Label) {
        optional::schema::<T>(schema)
    }
    fn field_default() -> Self {
        None
    }
    fn field_encode(&self, tag: u32, buf: &mut impl BufMut) {
        optional::encode(tag, self, buf)
    }
    fn field_len(&self, tag: u32) -> usize {
        optional::len(tag, self)
    }
    fn field_merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        optional::merge(wire_type, self, buf, depth)
    }
}

impl<T: Repeatable> FieldValue for Vec<T> {
    fn field_schema(schema: &mut Schema) -> (FieldType, Label) {
        repeated::schema::<T>(schema)
    }
    fn field_default() -> Self {
        Vec::new()
    }
    fn field_encode(&self, tag: u32, buf: &mut impl BufMut) {
        repeated::encode(tag, self, buf)
    }
    fn field_len(&self, tag: u32) -> usize {
        repeated::len(tag, self)
    }
    fn field_merge(
        &mut self,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        repeated::merge(wire_type, self, buf, depth)
    }
}

macro_rules! map_value {
    ($map:ty, [$($bounds:tt)*]) => {
        impl<$($bounds)*> FieldValue for $map
        where
            $map: ProtoMap,
        {
            fn field_schema(schema: &mut Schema) -> (FieldType, Label) {
                map::schema::<Self>(schema)
            }
            fn field_default() -> Self {
                Self::default()
            }
            fn field_encode(&self, tag: u32, buf: &mut impl BufMut) {
                map::encode(tag, self, buf)
            }
            fn field_len(&self, tag: u32) -> usize {
                map::len(tag, self)
            }
            fn field_merge(
                &mut self,
                wire_type: WireType,
                buf: &mut impl Buf,
                depth: Depth,
            ) -> Result<(), DecodeError> {
                map::merge(wire_type, self, buf, depth)
            }
        }
    };
}

map_value!(HashMap<K, V, S>, [K, V, S]);
map_value!(BTreeMap<K, V>, [K, V]);

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<T: FieldValue>(v: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        v.field_encode(3, &mut buf);
        assert_eq!(buf.len(), v.field_len(3));
        buf
    }

    #[test]
    fn the_type_picks_the_cardinality() {
        let mut schema = Schema::new("t");
        assert_eq!(
            <Vec<u8>>::field_schema(&mut schema),
            (FieldType::Scalar("bytes"), Label::Singular)
        );
        assert_eq!(
            <Vec<u32>>::field_schema(&mut schema),
            (FieldType::Scalar("uint32"), Label::Repeated)
        );
        assert_eq!(
            <Option<String>>::field_schema(&mut schema).1,
            Label::Optional
        );
        assert!(matches!(
            <HashMap<String, i64>>::field_schema(&mut schema).0,
            FieldType::Map(..)
        ));
        // Packed repeated, bytes, and explicit presence at the default.
        assert_eq!(encoded(&vec![1u32, 2]), [0x1a, 2, 1, 2]);
        assert_eq!(encoded(&vec![7u8]), [0x1a, 1, 7]);
        assert_eq!(encoded(&Some(0u32)), [0x18, 0]);
        assert!(encoded(&0u32).is_empty());
    }
}
