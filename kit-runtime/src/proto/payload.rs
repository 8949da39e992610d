//! What travels as a whole gRPC request or response.
//!
//! A gRPC method takes and returns messages. An endpoint's return type `T`
//! travels as a message of its own: `T` itself when `T` is a message
//! (`#[derive(kit::Message)]` on a struct), otherwise `T` as field 1 of a
//! message named for the method (`UppercaseResponse { value = 1 }`), and
//! `()` as an empty message. A lone `#[body]` argument is the request the
//! same way. The compiler picks the case from `T`'s traits, so a type
//! alias or a user type named like a std type is no trouble.

use bytes::{Buf, BufMut};
use prost::encoding::WireType;

use super::schema::{FieldSchema, Schema};
use super::value::FieldValue;
use super::{message, DecodeError, Depth, ProtoMessage};

/// A type that can be a whole gRPC request or response: its value is the
/// content of the message that carries it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent over gRPC",
    label = "not a protobuf type",
    note = "gRPC requests and responses are protobuf: #[derive(kit::Message)] on your struct or enum; std types must be bool, integers, floats, String, Vec<u8>, bytes::Bytes, Duration, SystemTime, or Option, Vec, HashMap or BTreeMap of protobuf types"
)]
pub trait GrpcPayload: Sized + Send + 'static {
    /// The value of an empty message.
    fn payload_default() -> Self;
    /// Writes the message's fields.
    fn payload_encode(&self, buf: &mut impl BufMut);
    /// The length of [`GrpcPayload::payload_encode`]'s output.
    fn payload_len(&self) -> usize;
    /// Merges one field of the message.
    fn payload_merge(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError>;
    /// Registers the message in `schema` and returns its full name. A
    /// message made for the value is named `wrapper`, its one field `field`.
    fn register(schema: &mut Schema, wrapper: &str, field: &str) -> String;
}

/// [`GrpcPayload`] of a value that is not a message: field 1 of a message
/// of its own.
#[doc(hidden)]
pub mod wrapped {
    use super::*;

    /// The value of an empty message.
    pub fn default<T: FieldValue>() -> T {
        T::field_default()
    }

    /// Writes the value as field 1.
    pub fn encode<T: FieldValue>(value: &T, buf: &mut impl BufMut) {
        value.field_encode(1, buf)
    }

    /// The length of [`encode`]'s output.
    pub fn len<T: FieldValue>(value: &T) -> usize {
        value.field_len(1)
    }

    /// Merges field 1; others are skipped.
    pub fn merge<T: FieldValue>(
        value: &mut T,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => value.field_merge(wire_type, buf, depth),
            _ => message::skip_unknown(tag, wire_type, buf),
        }
    }

    /// Registers the one-field message `name`.
    pub fn register<T: FieldValue>(schema: &mut Schema, name: &str, field: &str) -> String {
        let (ty, label) = T::field_schema(schema);
        schema.add_message(name, "", vec![FieldSchema::new(field, 1, ty, label)]);
        schema.full_name(name)
    }
}

/// [`GrpcPayload`] of a message: the message itself.
#[doc(hidden)]
pub fn register_message<M: ProtoMessage>(schema: &mut Schema) -> String {
    schema.message::<M>();
    schema.full_name(M::NAME)
}

/// Implements [`GrpcPayload`] by wrapping, for a type that is a field but
/// not a message (kit's scalars here; `#[derive(kit::Message)]` enums).
#[macro_export]
#[doc(hidden)]
macro_rules! __grpc_payload_wrapped {
    ($ty:ty $(, [$($generics:tt)*])?) => {
        impl$(<$($generics)*>)? $crate::proto::GrpcPayload for $ty
        where
            $ty: $crate::proto::FieldValue + Send + 'static,
        {
            fn payload_default() -> Self {
                $crate::proto::wrapped::default()
            }
            fn payload_encode(&self, buf: &mut impl $crate::__bytes::BufMut) {
                $crate::proto::wrapped::encode(self, buf)
            }
            fn payload_len(&self) -> usize {
                $crate::proto::wrapped::len(self)
            }
            fn payload_merge(
                &mut self,
                tag: u32,
                wire_type: $crate::proto::WireType,
                buf: &mut impl $crate::__bytes::Buf,
                depth: $crate::proto::Depth,
            ) -> ::core::result::Result<(), $crate::proto::DecodeError> {
                $crate::proto::wrapped::merge(self, tag, wire_type, buf, depth)
            }
            fn register(schema: &mut $crate::proto::Schema, wrapper: &str, field: &str) -> ::std::string::String {
                $crate::proto::wrapped::register::<$ty>(schema, wrapper, field)
            }
        }
    };
}

/// Implements [`GrpcPayload`] for a message type: it travels as itself.
#[macro_export]
#[doc(hidden)]
macro_rules! __grpc_payload_message {
    ($ty:ty) => {
        impl $crate::proto::GrpcPayload for $ty {
            fn payload_default() -> Self {
                <Self as $crate::proto::ProtoMessage>::proto_new()
            }
            fn payload_encode(&self, buf: &mut impl $crate::__bytes::BufMut) {
                <Self as $crate::proto::ProtoMessage>::encode_fields(self, buf)
            }
            fn payload_len(&self) -> usize {
                <Self as $crate::proto::ProtoMessage>::fields_len(self)
            }
            fn payload_merge(
                &mut self,
                tag: u32,
                wire_type: $crate::proto::WireType,
                buf: &mut impl $crate::__bytes::Buf,
                depth: $crate::proto::Depth,
            ) -> ::core::result::Result<(), $crate::proto::DecodeError> {
                <Self as $crate::proto::ProtoMessage>::merge_field(self, tag, wire_type, buf, depth)
            }
            fn register(
                schema: &mut $crate::proto::Schema,
                _: &str,
                _: &str,
            ) -> ::std::string::String {
                $crate::proto::register_message::<$ty>(schema)
            }
        }
    };
}

macro_rules! wrapped {
    ($($ty:ty),* $(,)?) => {$( crate::__grpc_payload_wrapped!($ty); )*};
}

wrapped!(
    bool,
    i32,
    i64,
    u32,
    u64,
    u8,
    u16,
    i8,
    i16,
    f32,
    f64,
    String,
    bytes::Bytes,
    std::time::Duration,
    std::time::SystemTime,
    super::Sint32,
    super::Sint64,
    super::Fixed32,
    super::Fixed64,
    super::Sfixed32,
    super::Sfixed64,
);
crate::__grpc_payload_wrapped!(Option<T>, [T]);
crate::__grpc_payload_wrapped!(Vec<T>, [T]);
crate::__grpc_payload_wrapped!(std::collections::HashMap<K, V, S>, [K, V, S]);
crate::__grpc_payload_wrapped!(std::collections::BTreeMap<K, V>, [K, V]);

/// `()`: an empty message.
impl GrpcPayload for () {
    fn payload_default() {}
    fn payload_encode(&self, _: &mut impl BufMut) {}
    fn payload_len(&self) -> usize {
        0
    }
    fn payload_merge(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        _: Depth,
    ) -> Result<(), DecodeError> {
        message::skip_unknown(tag, wire_type, buf)
    }
    fn register(schema: &mut Schema, wrapper: &str, _: &str) -> String {
        schema.add_message(wrapper, "", Vec::new());
        schema.full_name(wrapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<T: GrpcPayload>(value: &T) -> Vec<u8> {
        let mut buf = Vec::new();
        value.payload_encode(&mut buf);
        assert_eq!(buf.len(), value.payload_len());
        buf
    }

    #[test]
    fn values_travel_as_field_one() {
        assert_eq!(encoded(&"hi".to_string()), [0x0a, 2, b'h', b'i']);
        assert_eq!(encoded(&vec![1u32, 2]), [0x0a, 2, 1, 2]);
        assert!(encoded(&()).is_empty());
        let mut back = String::payload_default();
        let bytes = [2u8, b'h', b'i'];
        back.payload_merge(
            1,
            WireType::LengthDelimited,
            &mut &bytes[..],
            Depth::default(),
        )
        .unwrap();
        assert_eq!(back, "hi");
    }

    #[test]
    fn registration_names_wrappers_per_method() {
        let mut schema = Schema::new("p");
        let name = <Vec<u32> as GrpcPayload>::register(&mut schema, "ListResponse", "value");
        assert_eq!(name, "p.ListResponse");
        <() as GrpcPayload>::register(&mut schema, "DeleteResponse", "value");
        let proto = schema.to_proto();
        assert!(proto.contains("repeated uint32 value = 1;"), "{proto}");
        assert!(proto.contains("message DeleteResponse {\n}"), "{proto}");
    }
}
