//! Enums with data: `#[derive(kit::Message)]` makes one a protobuf message
//! holding a single `oneof`, one field per variant. A variant with named
//! fields is a message of its own, a variant with one unnamed field is that
//! field, a unit variant an empty message. The generated code calls these
//! for each variant; unlike plain fields, the active variant is written even
//! at its default value (a oneof has presence).

use bytes::{Buf, BufMut};
use prost::encoding::{check_wire_type, encode_key, encode_varint, encoded_len_varint, key_len};

use super::message::{check_end, delimited_end};
use super::{DecodeError, Depth, ProtoField, WireType};

/// Writes the key and length of a variant that is a message of `len` bytes;
/// its fields follow.
pub fn encode_message_header(tag: u32, len: usize, buf: &mut impl BufMut) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

/// The encoded length of a variant that is a message of `len` bytes.
pub fn message_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Merges a variant that is a message: `field` is called for each of its
/// fields.
pub fn merge_message<B: Buf>(
    wire_type: WireType,
    buf: &mut B,
    depth: Depth,
    mut field: impl FnMut(u32, WireType, &mut B, Depth) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    check_wire_type(WireType::LengthDelimited, wire_type)?;
    let depth = depth.enter()?;
    let end = delimited_end(buf)?;
    while buf.remaining() > end {
        let (tag, wt) = prost::encoding::decode_key(buf)?;
        field(tag, wt, buf, depth)?;
    }
    check_end(buf, end)
}

/// Writes a variant that is one value, even at its default.
pub fn encode_value<T: ProtoField>(tag: u32, value: &T, buf: &mut impl BufMut) {
    encode_key(tag, T::WIRE_TYPE, buf);
    value.encode_value(buf);
}

/// The encoded length of a variant that is one value.
pub fn value_len<T: ProtoField>(tag: u32, value: &T) -> usize {
    key_len(tag) + value.value_len()
}

/// Merges a variant that is one value.
pub fn merge_value<T: ProtoField>(
    wire_type: WireType,
    value: &mut T,
    buf: &mut impl Buf,
    depth: Depth,
) -> Result<(), DecodeError> {
    check_wire_type(T::WIRE_TYPE, wire_type)?;
    value.merge_value(buf, depth)
}
