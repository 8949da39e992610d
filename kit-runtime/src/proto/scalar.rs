//! [`ProtoField`] for the protobuf scalar types, strings, bytes and the
//! well-known Duration and Timestamp.

// The conversion macros take closures so each scalar is one readable line.
#![allow(clippy::redundant_closure_call)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{decode_varint, encode_varint, encoded_len_varint, WireType};
use serde::{Deserialize, Serialize};

use super::schema::{FieldType, Schema};
use super::value::Repeatable;
use super::{message, DecodeError, Depth, ProtoField, ProtoMessage};

macro_rules! varint {
    ($ty:ty, $name:literal, $to:expr, $from:expr) => {
        impl ProtoField for $ty {
            const WIRE_TYPE: WireType = WireType::Varint;
            const PACKED: bool = true;
            fn proto_type(_: &mut Schema) -> FieldType {
                FieldType::Scalar($name)
            }
            fn proto_default() -> Self {
                Default::default()
            }
            fn is_proto_default(&self) -> bool {
                *self == Self::default()
            }
            fn encode_value(&self, buf: &mut impl BufMut) {
                let to: fn(&$ty) -> u64 = $to;
                encode_varint(to(self), buf);
            }
            fn value_len(&self) -> usize {
                let to: fn(&$ty) -> u64 = $to;
                encoded_len_varint(to(self))
            }
            fn merge_value(&mut self, buf: &mut impl Buf, _: Depth) -> Result<(), DecodeError> {
                let from: fn(u64) -> $ty = $from;
                *self = from(decode_varint(buf)?);
                Ok(())
            }
        }
    };
}

varint!(bool, "bool", |v| u64::from(*v), |v| v != 0);
varint!(i32, "int32", |v| *v as i64 as u64, |v| v as i32);
varint!(i64, "int64", |v| *v as u64, |v| v as i64);
varint!(u32, "uint32", |v| u64::from(*v), |v| v as u32);
varint!(u64, "uint64", |v| *v, |v| v);

/// Rust integer types protobuf has no width for travel as the next wider
/// protobuf type; a decoded value out of the Rust type's range is an error.
macro_rules! narrow {
    ($ty:ty, $name:literal, $wide:ty) => {
        impl ProtoField for $ty {
            const WIRE_TYPE: WireType = WireType::Varint;
            const PACKED: bool = true;
            fn proto_type(_: &mut Schema) -> FieldType {
                FieldType::Scalar($name)
            }
            fn proto_default() -> Self {
                0
            }
            fn is_proto_default(&self) -> bool {
                *self == 0
            }
            fn encode_value(&self, buf: &mut impl BufMut) {
                <$wide>::from(*self).encode_value(buf)
            }
            fn value_len(&self) -> usize {
                <$wide>::from(*self).value_len()
            }
            fn merge_value(&mut self, buf: &mut impl Buf, depth: Depth) -> Result<(), DecodeError> {
                let mut wide: $wide = 0;
                wide.merge_value(buf, depth)?;
                *self = <$ty>::try_from(wide).map_err(|_| {
                    DecodeError::new(format!("{} is out of range for {}", wide, stringify!($ty)))
                })?;
                Ok(())
            }
        }
    };
}

narrow!(u8, "uint32", u32);
narrow!(u16, "uint32", u32);
narrow!(i8, "int32", i32);
narrow!(i16, "int32", i32);

macro_rules! newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                $name(v)
            }
        }
    };
}

newtype!(
    /// An `i32` encoded as protobuf `sint32` (zigzag).
    Sint32(i32)
);
newtype!(
    /// An `i64` encoded as protobuf `sint64` (zigzag).
    Sint64(i64)
);
newtype!(
    /// A `u32` encoded as protobuf `fixed32`.
    Fixed32(u32)
);
newtype!(
    /// A `u64` encoded as protobuf `fixed64`.
    Fixed64(u64)
);
newtype!(
    /// An `i32` encoded as protobuf `sfixed32`.
    Sfixed32(i32)
);
newtype!(
    /// An `i64` encoded as protobuf `sfixed64`.
    Sfixed64(i64)
);

varint!(
    Sint32,
    "sint32",
    |v| ((v.0 << 1) ^ (v.0 >> 31)) as u32 as u64,
    |v| {
        let v = v as u32;
        Sint32(((v >> 1) as i32) ^ -((v & 1) as i32))
    }
);
varint!(
    Sint64,
    "sint64",
    |v| ((v.0 << 1) ^ (v.0 >> 63)) as u64,
    |v| { Sint64(((v >> 1) as i64) ^ -((v & 1) as i64)) }
);

macro_rules! fixed {
    ($ty:ty, $int:ty, $name:literal, $wire:ident, $size:literal, $put:ident, $get:ident, $to:expr, $from:expr) => {
        impl ProtoField for $ty {
            const WIRE_TYPE: WireType = WireType::$wire;
            const PACKED: bool = true;
            fn proto_type(_: &mut Schema) -> FieldType {
                FieldType::Scalar($name)
            }
            fn proto_default() -> Self {
                Default::default()
            }
            fn is_proto_default(&self) -> bool {
                let to = $to;
                to(self) == <$int>::default()
            }
            fn encode_value(&self, buf: &mut impl BufMut) {
                let to = $to;
                buf.$put(to(self));
            }
            fn value_len(&self) -> usize {
                $size
            }
            fn merge_value(&mut self, buf: &mut impl Buf, _: Depth) -> Result<(), DecodeError> {
                if buf.remaining() < $size {
                    return Err(DecodeError::new("buffer underflow"));
                }
                let from = $from;
                *self = from(buf.$get());
                Ok(())
            }
        }
    };
}

fixed!(
    f32,
    u32,
    "float",
    ThirtyTwoBit,
    4,
    put_u32_le,
    get_u32_le,
    |v: &f32| v.to_bits(),
    f32::from_bits
);
fixed!(
    f64,
    u64,
    "double",
    SixtyFourBit,
    8,
    put_u64_le,
    get_u64_le,
    |v: &f64| v.to_bits(),
    f64::from_bits
);
fixed!(
    Fixed32,
    u32,
    "fixed32",
    ThirtyTwoBit,
    4,
    put_u32_le,
    get_u32_le,
    |v: &Fixed32| v.0,
    Fixed32
);
fixed!(
    Fixed64,
    u64,
    "fixed64",
    SixtyFourBit,
    8,
    put_u64_le,
    get_u64_le,
    |v: &Fixed64| v.0,
    Fixed64
);
fixed!(
    Sfixed32,
    i32,
    "sfixed32",
    ThirtyTwoBit,
    4,
    put_i32_le,
    get_i32_le,
    |v: &Sfixed32| v.0,
    Sfixed32
);
fixed!(
    Sfixed64,
    i64,
    "sfixed64",
    SixtyFourBit,
    8,
    put_i64_le,
    get_i64_le,
    |v: &Sfixed64| v.0,
    Sfixed64
);

/// Writes a length-delimited value: the length, then the bytes.
fn encode_prefixed(bytes: &[u8], buf: &mut impl BufMut) {
    encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

/// The encoded length of a length-delimited value of `len` bytes.
fn prefixed_len(len: usize) -> usize {
    encoded_len_varint(len as u64) + len
}

/// Reads a length prefix and checks the bytes are there.
fn read_len(buf: &mut impl Buf) -> Result<usize, DecodeError> {
    let len =
        usize::try_from(decode_varint(buf)?).map_err(|_| DecodeError::new("length overflows"))?;
    if len > buf.remaining() {
        return Err(DecodeError::new("buffer underflow"));
    }
    Ok(len)
}

impl ProtoField for String {
    const WIRE_TYPE: WireType = WireType::LengthDelimited;
    fn proto_type(_: &mut Schema) -> FieldType {
        FieldType::Scalar("string")
    }
    fn proto_default() -> Self {
        String::new()
    }
    fn is_proto_default(&self) -> bool {
        self.is_empty()
    }
    fn encode_value(&self, buf: &mut impl BufMut) {
        encode_prefixed(self.as_bytes(), buf)
    }
    fn value_len(&self) -> usize {
        prefixed_len(self.len())
    }
    fn merge_value(&mut self, buf: &mut impl Buf, _: Depth) -> Result<(), DecodeError> {
        let len = read_len(buf)?;
        let mut bytes = vec![0; len];
        buf.copy_to_slice(&mut bytes);
        *self = String::from_utf8(bytes)
            .map_err(|_| DecodeError::new("string field is not valid UTF-8"))?;
        Ok(())
    }
}

impl ProtoField for Vec<u8> {
    const WIRE_TYPE: WireType = WireType::LengthDelimited;
    fn proto_type(_: &mut Schema) -> FieldType {
        FieldType::Scalar("bytes")
    }
    fn proto_default() -> Self {
        Vec::new()
    }
    fn is_proto_default(&self) -> bool {
        self.is_empty()
    }
    fn encode_value(&self, buf: &mut impl BufMut) {
        encode_prefixed(self, buf)
    }
    fn value_len(&self) -> usize {
        prefixed_len(self.len())
    }
    fn merge_value(&mut self, buf: &mut impl Buf, _: Depth) -> Result<(), DecodeError> {
        let len = read_len(buf)?;
        self.clear();
        self.resize(len, 0);
        buf.copy_to_slice(self);
        Ok(())
    }
}

impl ProtoField for Bytes {
    const WIRE_TYPE: WireType = WireType::LengthDelimited;
    fn proto_type(_: &mut Schema) -> FieldType {
        FieldType::Scalar("bytes")
    }
    fn proto_default() -> Self {
        Bytes::new()
    }
    fn is_proto_default(&self) -> bool {
        self.is_empty()
    }
    fn encode_value(&self, buf: &mut impl BufMut) {
        encode_prefixed(self, buf)
    }
    fn value_len(&self) -> usize {
        prefixed_len(self.len())
    }
    fn merge_value(&mut self, buf: &mut impl Buf, _: Depth) -> Result<(), DecodeError> {
        let len = read_len(buf)?;
        *self = buf.copy_to_bytes(len);
        Ok(())
    }
}

// Every field type may repeat but `u8`: `Vec<u8>` is `bytes`.
macro_rules! repeatable {
    ($($ty:ty),* $(,)?) => {$( impl Repeatable for $ty {} )*};
}

repeatable!(
    bool,
    i32,
    i64,
    u32,
    u64,
    u16,
    i8,
    i16,
    f32,
    f64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    String,
    Vec<u8>,
    Bytes,
);

/// Implements [`ProtoField`] for a type that is a [`ProtoMessage`].
#[macro_export]
#[doc(hidden)]
macro_rules! __proto_message_field {
    ($ty:ty) => {
        impl $crate::proto::ProtoField for $ty {
            const WIRE_TYPE: $crate::proto::WireType = $crate::proto::WireType::LengthDelimited;
            fn proto_type(schema: &mut $crate::proto::Schema) -> $crate::proto::FieldType {
                schema.message::<Self>()
            }
            fn proto_default() -> Self {
                <Self as $crate::proto::ProtoMessage>::proto_new()
            }
            fn is_proto_default(&self) -> bool {
                false
            }
            fn encode_value(&self, buf: &mut impl $crate::__bytes::BufMut) {
                $crate::proto::field::message_value::encode(self, buf)
            }
            fn value_len(&self) -> usize {
                $crate::proto::field::message_value::len(self)
            }
            fn merge_value(
                &mut self,
                buf: &mut impl $crate::__bytes::Buf,
                depth: $crate::proto::Depth,
            ) -> Result<(), $crate::proto::DecodeError> {
                $crate::proto::field::message_value::merge(self, buf, depth)
            }
        }

        impl $crate::proto::Repeatable for $ty {}
    };
}

/// The `seconds` (1) and `nanos` (2) fields shared by Duration and Timestamp.
mod seconds_nanos {
    use super::*;

    pub(super) fn encode((s, n): (i64, i32), buf: &mut impl BufMut) {
        super::super::field::singular::encode(1, &s, buf);
        super::super::field::singular::encode(2, &n, buf);
    }

    pub(super) fn len((s, n): (i64, i32)) -> usize {
        super::super::field::singular::len(1, &s) + super::super::field::singular::len(2, &n)
    }

    /// Merges one field into `parts`.
    pub(super) fn merge(
        parts: (i64, i32),
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(i64, i32), DecodeError> {
        let (mut s, mut n) = parts;
        match tag {
            1 => super::super::field::singular::merge(wire_type, &mut s, buf, depth)?,
            2 => super::super::field::singular::merge(wire_type, &mut n, buf, depth)?,
            _ => message::skip_unknown(tag, wire_type, buf)?,
        }
        Ok((s, n))
    }
}

fn duration_parts(d: &Duration) -> (i64, i32) {
    (
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos() as i32,
    )
}

/// `google.protobuf.Duration`: seconds and nanoseconds.
impl ProtoMessage for Duration {
    const NAME: &'static str = "google.protobuf.Duration";
    fn describe(schema: &mut Schema) {
        schema.well_known(
            Self::NAME,
            "google/protobuf/duration.proto",
            &[("seconds", 1, "int64"), ("nanos", 2, "int32")],
        );
    }
    fn proto_new() -> Self {
        Duration::ZERO
    }
    fn encode_fields(&self, buf: &mut impl BufMut) {
        seconds_nanos::encode(duration_parts(self), buf)
    }
    fn fields_len(&self) -> usize {
        seconds_nanos::len(duration_parts(self))
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        let (s, n) = seconds_nanos::merge(duration_parts(self), tag, wire_type, buf, depth)?;
        // Negative durations have no std::time::Duration: they clamp to zero.
        *self = Duration::new(
            u64::try_from(s).unwrap_or(0),
            u32::try_from(n).unwrap_or(0).min(999_999_999),
        );
        Ok(())
    }
}

/// `google.protobuf.Timestamp`: seconds and nanoseconds since the Unix epoch.
impl ProtoMessage for SystemTime {
    const NAME: &'static str = "google.protobuf.Timestamp";
    fn describe(schema: &mut Schema) {
        schema.well_known(
            Self::NAME,
            "google/protobuf/timestamp.proto",
            &[("seconds", 1, "int64"), ("nanos", 2, "int32")],
        );
    }
    fn proto_new() -> Self {
        UNIX_EPOCH
    }
    fn encode_fields(&self, buf: &mut impl BufMut) {
        seconds_nanos::encode(timestamp_parts(self), buf)
    }
    fn fields_len(&self) -> usize {
        seconds_nanos::len(timestamp_parts(self))
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        let (s, n) = seconds_nanos::merge(timestamp_parts(self), tag, wire_type, buf, depth)?;
        let nanos = Duration::from_nanos(u64::try_from(n).unwrap_or(0).min(999_999_999));
        *self = if s >= 0 {
            UNIX_EPOCH + Duration::from_secs(s as u64) + nanos
        } else {
            UNIX_EPOCH - Duration::from_secs(s.unsigned_abs()) + nanos
        };
        Ok(())
    }
}

/// Seconds since the epoch (floored) and non-negative nanos, as protobuf wants.
fn timestamp_parts(t: &SystemTime) -> (i64, i32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i32),
        Err(e) => {
            let d = e.duration();
            // At i64::MIN seconds, `d` is 2^63 seconds: `as i64` gives
            // i64::MIN back, whose plain negation overflows.
            let s = (d.as_secs() as i64).wrapping_neg();
            let (mut s, mut n) = (s, -(d.subsec_nanos() as i32));
            if n < 0 {
                s -= 1;
                n += 1_000_000_000;
            }
            (s, n)
        }
    }
}

crate::__proto_message_field!(Duration);
crate::__proto_message_field!(SystemTime);

#[cfg(test)]
mod tests {
    use super::*;

    /// The earliest Timestamp protobuf can carry (seconds = i64::MIN)
    /// overflowed on negation (a panic with overflow checks); found reading
    /// the code while writing fuzz/ (proto), whose target reproduces it.
    #[test]
    fn the_earliest_timestamp_round_trips() {
        for (s, n) in [(i64::MIN, 0), (i64::MIN, 5), (-1, 999_999_999), (-1, 0)] {
            let mut buf = Vec::new();
            super::super::field::singular::encode(1, &s, &mut buf);
            super::super::field::singular::encode(2, &n, &mut buf);
            let t: SystemTime = message::decode(buf.as_slice()).unwrap();
            assert_eq!(timestamp_parts(&t), (s, n));
            assert_eq!(message::encode_to_vec(&t), buf);
        }
    }
}
