//! What travels as a whole gRPC request or response.
//!
//! A gRPC method takes and returns messages. An endpoint's arguments become
//! one message, [`Args`] (field `n` is argument `n`); its return type `T`
//! travels as [`GrpcPayload::Message`]: `T` itself when `T` is a message
//! (`#[derive(kit::Message)]` on a struct), otherwise `T` wrapped in a
//! one-field message ([`Wrapped`]), and `()` as an empty message. The
//! compiler picks the case from `T`'s traits, so a type alias or a user
//! type named like a std type is no trouble.

use bytes::{Buf, BufMut};
use prost::encoding::WireType;

use super::schema::{FieldSchema, Schema};
use super::value::FieldValue;
use super::{message, DecodeError, Depth, ProtoMessage};

/// A type that can be a whole gRPC request or response.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent over gRPC",
    label = "not a protobuf type",
    note = "gRPC requests and responses are protobuf: #[derive(kit::Message)] on your struct or enum; std types must be bool, integers, floats, String, Vec<u8>, bytes::Bytes, Duration, SystemTime, or Option, Vec, HashMap or BTreeMap of protobuf types"
)]
pub trait GrpcPayload: Sized + Send + 'static {
    /// The message on the wire.
    type Message: ProtoMessage + Send + 'static;
    /// The message that carries `self`.
    fn into_message(self) -> Self::Message;
    /// The value a received message carries.
    fn from_message(message: Self::Message) -> Self;
    /// Registers the message in `schema` and returns its full name. A
    /// wrapper message is named `wrapper` and its one field `field`.
    fn register(schema: &mut Schema, wrapper: &str, field: &str) -> String;
}

/// A value that is not a message, as the field `1` of a message of its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wrapped<T>(pub T);

impl<T: FieldValue> ProtoMessage for Wrapped<T> {
    /// Wrappers are named per method by [`GrpcPayload::register`].
    const NAME: &'static str = "Value";

    fn describe(schema: &mut Schema) {
        register_wrapper::<T>(schema, Self::NAME, "value");
    }
    fn proto_new() -> Self {
        Wrapped(T::field_default())
    }
    fn encode_fields(&self, buf: &mut impl BufMut) {
        self.0.field_encode(1, buf)
    }
    fn fields_len(&self) -> usize {
        self.0.field_len(1)
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => self.0.field_merge(wire_type, buf, depth),
            _ => message::skip_unknown(tag, wire_type, buf),
        }
    }
}

fn register_wrapper<T: FieldValue>(schema: &mut Schema, name: &str, field: &str) -> String {
    let (ty, label) = T::field_schema(schema);
    schema.add_message(name, "", vec![FieldSchema::new(field, 1, ty, label)]);
    schema.full_name(name)
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
            type Message = $crate::proto::Wrapped<$ty>;
            fn into_message(self) -> Self::Message {
                $crate::proto::Wrapped(self)
            }
            fn from_message(message: Self::Message) -> Self {
                message.0
            }
            fn register(schema: &mut $crate::proto::Schema, wrapper: &str, field: &str) -> ::std::string::String {
                $crate::proto::register_wrapped::<$ty>(schema, wrapper, field)
            }
        }
    };
}

/// [`GrpcPayload::register`] of a wrapped type.
#[doc(hidden)]
pub fn register_wrapped<T: FieldValue>(schema: &mut Schema, wrapper: &str, field: &str) -> String {
    register_wrapper::<T>(schema, wrapper, field)
}

/// [`GrpcPayload::register`] of a message type.
#[doc(hidden)]
pub fn register_message<M: ProtoMessage>(schema: &mut Schema) -> String {
    schema.message::<M>();
    schema.full_name(M::NAME)
}

/// Implements [`GrpcPayload`] for a message type: it travels as itself.
#[macro_export]
#[doc(hidden)]
macro_rules! __grpc_payload_message {
    ($ty:ty) => {
        impl $crate::proto::GrpcPayload for $ty {
            type Message = $ty;
            fn into_message(self) -> Self {
                self
            }
            fn from_message(message: Self) -> Self {
                message
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
    type Message = Args<()>;
    fn into_message(self) -> Args<()> {
        Args(())
    }
    fn from_message(_: Args<()>) {}
    fn register(schema: &mut Schema, wrapper: &str, _: &str) -> String {
        schema.add_message(wrapper, "", Vec::new());
        schema.full_name(wrapper)
    }
}

/// An endpoint's arguments as one request message: field `n` (from 1) is
/// the `n`th element of the tuple.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args<T>(pub T);

/// A tuple of [`FieldValue`]s: the fields of an [`Args`] message.
pub trait ArgTuple: Sized {
    /// Every field at its default.
    fn new() -> Self;
    /// Writes every field.
    fn encode(&self, buf: &mut impl BufMut);
    /// The length of [`ArgTuple::encode`]'s output.
    fn encoded_len(&self) -> usize;
    /// Merges field `tag`; unknown tags are skipped.
    fn merge(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError>;
    /// The fields' schemas, named by `names` (one per element).
    fn fields(schema: &mut Schema, names: &[&str]) -> Vec<FieldSchema>;
}

impl<T: ArgTuple> Args<T> {
    /// Registers the request message `name` with fields named `names`.
    pub fn register(schema: &mut Schema, name: &str, names: &[&str]) -> String {
        let fields = T::fields(schema, names);
        schema.add_message(name, "", fields);
        schema.full_name(name)
    }
}

impl<T: ArgTuple> ProtoMessage for Args<T> {
    /// Argument messages are named per method by [`Args::register`].
    const NAME: &'static str = "Args";

    fn describe(schema: &mut Schema) {
        Self::register(schema, Self::NAME, &[]);
    }
    fn proto_new() -> Self {
        Args(T::new())
    }
    fn encode_fields(&self, buf: &mut impl BufMut) {
        self.0.encode(buf)
    }
    fn fields_len(&self) -> usize {
        self.0.encoded_len()
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        depth: Depth,
    ) -> Result<(), DecodeError> {
        self.0.merge(tag, wire_type, buf, depth)
    }
}

macro_rules! arg_tuple {
    ($($n:tt $t:ident),*) => {
        impl<$($t: FieldValue),*> ArgTuple for ($($t,)*) {
            #[allow(clippy::unused_unit)]
            fn new() -> Self {
                ($($t::field_default(),)*)
            }
            #[allow(unused_variables)]
            fn encode(&self, buf: &mut impl BufMut) {
                $( self.$n.field_encode($n + 1, buf); )*
            }
            fn encoded_len(&self) -> usize {
                0 $( + self.$n.field_len($n + 1) )*
            }
            #[allow(unused_variables)]
            fn merge(
                &mut self,
                tag: u32,
                wire_type: WireType,
                buf: &mut impl Buf,
                depth: Depth,
            ) -> Result<(), DecodeError> {
                match tag {
                    $( t if t == $n + 1 => self.$n.field_merge(wire_type, buf, depth), )*
                    _ => message::skip_unknown(tag, wire_type, buf),
                }
            }
            #[allow(unused_variables, unused_mut)]
            fn fields(schema: &mut Schema, names: &[&str]) -> Vec<FieldSchema> {
                let mut fields = Vec::new();
                $(
                    let (ty, label) = $t::field_schema(schema);
                    let name = names.get($n).copied().unwrap_or("_");
                    fields.push(FieldSchema::new(name, $n + 1, ty, label));
                )*
                fields
            }
        }
    };
}

arg_tuple!();
arg_tuple!(0 A);
arg_tuple!(0 A, 1 B);
arg_tuple!(0 A, 1 B, 2 C);
arg_tuple!(0 A, 1 B, 2 C, 3 D);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O);
arg_tuple!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N, 14 O, 15 P);

/// How many arguments a gRPC endpoint may take (the largest [`ArgTuple`]).
pub const MAX_ARGS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{decode, encode_to_vec};

    #[test]
    fn args_are_fields_by_position() {
        let args = Args(("hi".to_string(), 5u32, vec![1i64, 2]));
        let bytes = encode_to_vec(&args);
        // field 1 string "hi", field 2 varint 5, field 3 packed [1, 2]
        assert_eq!(bytes, [0x0a, 2, b'h', b'i', 0x10, 5, 0x1a, 2, 1, 2]);
        let back: Args<(String, u32, Vec<i64>)> = decode(bytes.as_slice()).unwrap();
        assert_eq!(back, args);
    }

    #[test]
    fn one_argument_and_a_wrapped_value_look_the_same() {
        let a = encode_to_vec(&Args(("x".to_string(),)));
        let w = encode_to_vec(&"x".to_string().into_message());
        assert_eq!(a, w);
    }

    #[test]
    fn registration_names_wrappers_per_method() {
        let mut schema = Schema::new("p");
        let name = <Vec<u32> as GrpcPayload>::register(&mut schema, "ListResponse", "value");
        assert_eq!(name, "p.ListResponse");
        let req = Args::<(String, Option<u32>)>::register(&mut schema, "GetRequest", &["id", "n"]);
        assert_eq!(req, "p.GetRequest");
        let proto = schema.to_proto();
        assert!(proto.contains("repeated uint32 value = 1;"), "{proto}");
        assert!(proto.contains("optional uint32 n = 2;"), "{proto}");
        <() as GrpcPayload>::register(&mut schema, "DeleteResponse", "value");
        assert!(schema.to_proto().contains("message DeleteResponse {\n}"));
    }
}
