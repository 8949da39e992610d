//! Protobuf encoding from Rust types: what `#[derive(kit::Message)]` and
//! the gRPC transport build on.
//!
//! A type is a protobuf *field* through [`ProtoField`] (scalars, strings,
//! bytes, enums, messages, well-known types) and a *message* through
//! [`ProtoMessage`]. A field's cardinality follows from its Rust type
//! through [`FieldValue`]: `Option<T>` is a proto3 `optional` field,
//! `Vec<T>` a `repeated` one (packed for numeric `T`), `HashMap`/`BTreeMap`
//! a `map`, `Vec<u8>` and `bytes::Bytes` are `bytes`. [`GrpcPayload`] says
//! how a type travels as a whole gRPC request or response. The encoding is protobuf's, byte for byte
//! what prost (the reference for Rust) produces, but for a map entry whose
//! value is a message at its defaults: kit writes the empty value, prost
//! leaves it off (both read back the same map).
//!
//! Field numbers are the wire contract. Unless a field says
//! `#[kit(tag = N)]`, its number is its position (1-based): append new
//! fields at the end, never reorder or remove; the example's checked-in
//! .proto fails a test when the schema drifts.

mod codec;
#[doc(hidden)]
pub mod field;
mod message;
#[doc(hidden)]
pub mod oneof;
mod payload;
pub(crate) mod reflection;
mod scalar;
pub mod schema;
mod value;
mod wkt;

use std::fmt;

use bytes::{Buf, BufMut};
#[doc(hidden)]
pub use prost::encoding::WireType;

pub(crate) use codec::ProtoCodec;
#[doc(hidden)]
pub use message::skip_unknown;
pub use message::{decode, encode_to_vec};
pub use payload::GrpcPayload;
#[doc(hidden)]
pub use payload::{register_message, wrapped};
pub use scalar::{Fixed32, Fixed64, Sfixed32, Sfixed64, Sint32, Sint64};
pub use schema::{FieldType, Label, Schema};
pub use value::FieldValue;
#[doc(hidden)]
pub use value::Repeatable;
pub use wkt::{Bytes, Duration, Timestamp};

/// Why a protobuf message could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    /// An error with this description.
    pub fn new(what: impl Into<String>) -> DecodeError {
        DecodeError(what.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid protobuf: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl From<prost::DecodeError> for DecodeError {
    fn from(e: prost::DecodeError) -> DecodeError {
        DecodeError(e.to_string())
    }
}

/// How deep nested messages may go before decoding gives up (protobuf's
/// usual limit), so a hostile message cannot exhaust the stack.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Depth(u32);

impl Default for Depth {
    fn default() -> Self {
        Depth(100)
    }
}

impl Depth {
    /// One level deeper; an error past the limit.
    pub fn enter(self) -> Result<Depth, DecodeError> {
        self.0
            .checked_sub(1)
            .map(Depth)
            .ok_or_else(|| DecodeError::new("recursion limit reached"))
    }
}

/// A Rust type that can be the value of a protobuf field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a protobuf field",
    label = "not a protobuf type",
    note = "supported: bool, i32, i64, u32, u64, i8, i16, u8 and u16 (sent as 32-bit), f32, f64, String, Vec<u8>, bytes::Bytes, kit::proto::{{Sint32, Sint64, Fixed32, Fixed64, Sfixed32, Sfixed64}}, std::time::{{Duration, SystemTime}}, and types with #[derive(kit::Message)]"
)]
pub trait ProtoField: Sized {
    /// The wire type of one value.
    const WIRE_TYPE: WireType;
    /// Whether repeated fields of this type are packed (numeric scalars).
    const PACKED: bool = false;
    /// The field's type in a schema; registers messages and enums it needs.
    fn proto_type(schema: &mut Schema) -> FieldType;
    /// The protobuf default value (zero, empty, the first enum variant).
    fn proto_default() -> Self;
    /// Whether a singular field with this value is left off the wire.
    fn is_proto_default(&self) -> bool;
    /// Writes the value alone: a varint, fixed bytes, or length and bytes.
    fn encode_value(&self, buf: &mut impl BufMut);
    /// The length of [`ProtoField::encode_value`]'s output.
    fn value_len(&self) -> usize;
    /// Reads one value (its wire type already checked) into `self`.
    fn merge_value(&mut self, buf: &mut impl Buf, depth: Depth) -> Result<(), DecodeError>;
}

/// A protobuf message: a Rust struct whose fields are [`ProtoField`]s.
/// Implemented by `#[derive(kit::Message)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a protobuf message",
    label = "not a protobuf message",
    note = "#[derive(kit::Message)] on a struct with named fields makes it a message"
)]
pub trait ProtoMessage: Sized {
    /// The message name, without package (`UppercaseRequest`), or the full
    /// name of a well-known type (`google.protobuf.Duration`).
    const NAME: &'static str;
    /// Registers the message (and what its fields need) in `schema`.
    fn describe(schema: &mut Schema);
    /// The message with every field at its default.
    fn proto_new() -> Self;
    /// Writes every field that is not at its default.
    fn encode_fields(&self, buf: &mut impl BufMut);
    /// The length of [`ProtoMessage::encode_fields`]'s output.
    fn fields_len(&self) -> usize;
    /// Merges one field; unknown fields are skipped.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError>;
}

/// Decodes a response message a client received (INTERNAL if it is not one).
pub(crate) fn decode_response<M: ProtoMessage>(bytes: bytes::Bytes) -> Result<M, crate::Error> {
    decode(bytes).map_err(|e| crate::Error::internal(format!("cannot decode the response: {e}")))
}
