//! Fields by shape: singular, `optional`, `repeated` and `map`. The
//! generated message code calls one of these per field, by the field's
//! Rust shape; the element type supplies the encoding via [`ProtoField`].

use bytes::{Buf, BufMut};
use prost::encoding::{
    check_wire_type, decode_varint, encode_key, encode_varint, encoded_len_varint, key_len,
    WireType,
};

use super::message::{check_end, delimited_end};
use super::schema::{FieldType, Label, Schema};
use super::{DecodeError, Depth, ProtoField, ProtoMessage};

fn check(expected: WireType, actual: WireType) -> Result<(), DecodeError> {
    check_wire_type(expected, actual).map_err(Into::into)
}

/// A plain field: left off the wire at its default (proto3 implicit presence).
pub mod singular {
    use super::*;

    /// Writes the field unless it is at its default.
    pub fn encode<T: ProtoField>(tag: u32, value: &T, buf: &mut impl BufMut) {
        if !value.is_proto_default() {
            encode_key(tag, T::WIRE_TYPE, buf);
            value.encode_value(buf);
        }
    }

    /// The encoded length of the field.
    pub fn len<T: ProtoField>(tag: u32, value: &T) -> usize {
        if value.is_proto_default() {
            0
        } else {
            key_len(tag) + value.value_len()
        }
    }

    /// Merges one occurrence of the field.
    pub fn merge<T: ProtoField>(
        wire_type: WireType,
        value: &mut T,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        check(T::WIRE_TYPE, wire_type)?;
        value.merge_value(buf, depth)
    }

    /// The field's schema.
    pub fn schema<T: ProtoField>(schema: &mut Schema) -> (FieldType, Label) {
        (T::proto_type(schema), Label::Singular)
    }
}

/// An `Option<T>`: proto3 `optional` (explicit presence) for scalars, a
/// plain message field for messages.
pub mod optional {
    use super::*;

    /// Writes the field when it is `Some`, even at the default value.
    pub fn encode<T: ProtoField>(tag: u32, value: &Option<T>, buf: &mut impl BufMut) {
        if let Some(v) = value {
            encode_key(tag, T::WIRE_TYPE, buf);
            v.encode_value(buf);
        }
    }

    /// The encoded length of the field.
    pub fn len<T: ProtoField>(tag: u32, value: &Option<T>) -> usize {
        value.as_ref().map_or(0, |v| key_len(tag) + v.value_len())
    }

    /// Merges one occurrence of the field.
    pub fn merge<T: ProtoField>(
        wire_type: WireType,
        value: &mut Option<T>,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        check(T::WIRE_TYPE, wire_type)?;
        value
            .get_or_insert_with(T::proto_default)
            .merge_value(buf, depth)
    }

    /// The field's schema.
    pub fn schema<T: ProtoField>(schema: &mut Schema) -> (FieldType, Label) {
        let ty = T::proto_type(schema);
        let label = if matches!(ty, FieldType::Message(_)) {
            Label::Singular
        } else {
            Label::Optional
        };
        (ty, label)
    }
}

/// A `Vec<T>`: `repeated`, packed for numeric scalars.
pub mod repeated {
    use super::*;

    /// Writes every element (one packed run for numeric scalars).
    pub fn encode<T: ProtoField>(tag: u32, values: &[T], buf: &mut impl BufMut) {
        if values.is_empty() {
            return;
        }
        if T::PACKED {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(
                values.iter().map(ProtoField::value_len).sum::<usize>() as u64,
                buf,
            );
            for v in values {
                v.encode_value(buf);
            }
        } else {
            for v in values {
                encode_key(tag, T::WIRE_TYPE, buf);
                v.encode_value(buf);
            }
        }
    }

    /// The encoded length of the field.
    pub fn len<T: ProtoField>(tag: u32, values: &[T]) -> usize {
        if values.is_empty() {
            return 0;
        }
        let data: usize = values.iter().map(ProtoField::value_len).sum();
        if T::PACKED {
            key_len(tag) + encoded_len_varint(data as u64) + data
        } else {
            key_len(tag) * values.len() + data
        }
    }

    /// Merges one occurrence: a packed run or a single element (parsers
    /// must accept both).
    pub fn merge<T: ProtoField>(
        wire_type: WireType,
        values: &mut Vec<T>,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        if T::PACKED && wire_type == WireType::LengthDelimited {
            let end = delimited_end(buf)?;
            while buf.remaining() > end {
                let mut v = T::proto_default();
                v.merge_value(buf, depth)?;
                values.push(v);
            }
            return check_end(buf, end);
        }
        check(T::WIRE_TYPE, wire_type)?;
        let mut v = T::proto_default();
        v.merge_value(buf, depth)?;
        values.push(v);
        Ok(())
    }

    /// The field's schema.
    pub fn schema<T: ProtoField>(schema: &mut Schema) -> (FieldType, Label) {
        (T::proto_type(schema), Label::Repeated)
    }
}

/// A map type: `HashMap` or `BTreeMap`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a protobuf map",
    label = "map keys must be integers, bool or String, values any protobuf field type"
)]
pub trait ProtoMap: Default {
    /// Key type (an integer, bool or string).
    type Key: ProtoField;
    /// Value type (anything but another map).
    type Value: ProtoField;
    /// Every entry.
    fn entries(&self) -> impl Iterator<Item = (&Self::Key, &Self::Value)>;
    /// Adds or replaces one entry.
    fn put(&mut self, key: Self::Key, value: Self::Value);
}

impl<K: ProtoField + Eq + std::hash::Hash, V: ProtoField, S: std::hash::BuildHasher + Default>
    ProtoMap for std::collections::HashMap<K, V, S>
{
    type Key = K;
    type Value = V;
    fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.iter()
    }
    fn put(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
}

impl<K: ProtoField + Ord, V: ProtoField> ProtoMap for std::collections::BTreeMap<K, V> {
    type Key = K;
    type Value = V;
    fn entries(&self) -> impl Iterator<Item = (&K, &V)> {
        self.iter()
    }
    fn put(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
}

/// A `map<K, V>`: one length-delimited entry message per key.
pub mod map {
    use super::*;

    fn entry_len<K: ProtoField, V: ProtoField>(k: &K, v: &V) -> usize {
        super::singular::len(1, k) + super::singular::len(2, v)
    }

    /// Writes every entry.
    pub fn encode<M: ProtoMap>(tag: u32, map: &M, buf: &mut impl BufMut) {
        for (k, v) in map.entries() {
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(entry_len(k, v) as u64, buf);
            super::singular::encode(1, k, buf);
            super::singular::encode(2, v, buf);
        }
    }

    /// The encoded length of the field.
    pub fn len<M: ProtoMap>(tag: u32, map: &M) -> usize {
        map.entries()
            .map(|(k, v)| {
                let e = entry_len(k, v);
                key_len(tag) + encoded_len_varint(e as u64) + e
            })
            .sum()
    }

    /// Merges one entry.
    pub fn merge<M: ProtoMap>(
        wire_type: WireType,
        map: &mut M,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        check(WireType::LengthDelimited, wire_type)?;
        let depth = depth.enter()?;
        let end = delimited_end(buf)?;
        let (mut key, mut value) = (M::Key::proto_default(), M::Value::proto_default());
        while buf.remaining() > end {
            let (tag, wt) = prost::encoding::decode_key(buf)?;
            match tag {
                1 => super::singular::merge(wt, &mut key, buf, depth)?,
                2 => super::singular::merge(wt, &mut value, buf, depth)?,
                _ => super::super::message::skip_unknown(tag, wt, buf)?,
            }
        }
        check_end(buf, end)?;
        map.put(key, value);
        Ok(())
    }

    /// The field's schema.
    pub fn schema<M: ProtoMap>(schema: &mut Schema) -> (FieldType, Label) {
        let key = M::Key::proto_type(schema);
        let value = M::Value::proto_type(schema);
        (
            FieldType::Map(Box::new(key), Box::new(value)),
            Label::Singular,
        )
    }
}

/// A message as the value of a field (length-delimited).
pub mod message_value {
    use super::*;

    /// Writes the length and the fields.
    pub fn encode<M: ProtoMessage>(msg: &M, buf: &mut impl BufMut) {
        super::super::message::encode_value(msg, buf)
    }

    /// The encoded length with its prefix.
    pub fn len<M: ProtoMessage>(msg: &M) -> usize {
        super::super::message::value_len(msg)
    }

    /// Merges a length-delimited message.
    pub fn merge<M: ProtoMessage>(
        msg: &mut M,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        super::super::message::merge_value(msg, buf, depth)
    }
}

/// Enums travel as `int32` varints.
pub mod enumeration {
    use super::*;

    /// Writes an enum's number.
    pub fn encode(value: i32, buf: &mut impl BufMut) {
        encode_varint(value as i64 as u64, buf);
    }

    /// The encoded length of an enum's number.
    pub fn len(value: i32) -> usize {
        encoded_len_varint(value as i64 as u64)
    }

    /// Reads an enum's number.
    pub fn decode(buf: &mut impl Buf) -> Result<i32, DecodeError> {
        Ok(decode_varint(buf)? as i32)
    }
}
