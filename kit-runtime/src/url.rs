//! Values in URLs: path segments and query parameters, read and written
//! with serde, as axum's `Path` and `Query` do.
//!
//! A URL argument may be any serde type whose form is a scalar (strings,
//! numbers, `bool`, `char`), a fieldless enum (by its serde name), a
//! newtype of those (`#[serde(transparent)]` ids), or, for query
//! parameters only, `Option` (may be left out) and `Vec` (repeated:
//! `?tag=a&tag=b`) of those. [`shape`] tells which form a type has, so a
//! server refuses at start-up an argument that cannot travel in a URL.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible};
use serde::{Deserializer, Serialize};

use crate::Error;

/// How generated code reads and writes one URL argument of type `T`: made
/// by [`url`] at the argument's type, the one place its serde bounds are
/// checked.
pub struct UrlCodec<T> {
    from: fn(&[&str]) -> Result<T, String>,
    to: fn(&T) -> Result<Vec<String>, Error>,
    shape: fn() -> Shape,
    json: fn(&mut Vec<u8>, &T) -> Result<(), serde_json::Error>,
}

impl<T> Clone for UrlCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for UrlCodec<T> {}

/// The URL codec of `T`.
pub const fn url<T: Serialize + DeserializeOwned>() -> UrlCodec<T> {
    UrlCodec {
        from: from_values::<T>,
        to: to_values::<T>,
        shape: shape::<T>,
        json: |buf, value| serde_json::to_writer(buf, value),
    }
}

impl<T> UrlCodec<T> {
    /// Parses the values a URL holds for the argument.
    pub(crate) fn read(&self, values: &[&str]) -> Result<T, String> {
        (self.from)(values)
    }

    /// The values to write for `value`.
    pub(crate) fn write(&self, value: &T) -> Result<Vec<String>, Error> {
        (self.to)(value)
    }

    /// Appends `value` as JSON (a NATS payload carries URL arguments so).
    pub(crate) fn json_into(&self, buf: &mut Vec<u8>, value: &T) -> Result<(), serde_json::Error> {
        (self.json)(buf, value)
    }

    /// What `T` looks like in a URL.
    pub(crate) fn shape(&self) -> Shape {
        (self.shape)()
    }
}

/// Why an argument of `shape` cannot be where it is, if it cannot.
pub(crate) fn misfit(shape: Shape, in_path: bool) -> Option<String> {
    match (shape, in_path) {
        (Shape::Scalar, _) | (Shape::Optional | Shape::Repeated, false) => None,
        (Shape::Optional, true) => Some("a path segment is always there: it cannot be optional".into()),
        (Shape::Repeated, true) => Some("a path segment holds one value: take a query parameter for a list".into()),
        (Shape::Unsupported(what), _) => Some(format!(
            "{what} cannot travel in a URL: take a string, a number, a bool, a fieldless enum or a newtype of those (or a POST/PUT/PATCH body)"
        )),
    }
}

/// What a type looks like in a URL, as its `Deserialize` impl asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One value: a scalar, a fieldless enum, or a newtype of those.
    Scalar,
    /// `Option<T>` of a scalar.
    Optional,
    /// `Vec<T>` (a sequence) of scalars.
    Repeated,
    /// Anything else (a struct, a map, a tuple, nested sequences).
    Unsupported(&'static str),
}

/// The [`Shape`] of `T`, found by letting `T` deserialize from a probe that
/// records what it asks for (no data is involved).
pub(crate) fn shape<T: DeserializeOwned>() -> Shape {
    match T::deserialize(Probe { depth: 0 }) {
        Ok(_) => Shape::Scalar,
        Err(ProbeError::Found(shape)) => shape,
        Err(ProbeError::Other) => Shape::Scalar,
    }
}

/// The error of a [`Probe`]: the shape it saw (or a value error, which
/// means the type asked for a scalar).
#[derive(Debug)]
enum ProbeError {
    Found(Shape),
    Other,
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProbeError::Other
    }
}

/// A deserializer with no data: answers the first question with the shape
/// it implies.
struct Probe {
    depth: u8,
}

impl Probe {
    fn nested(&self, outer: Shape) -> Result<Shape, ProbeError> {
        if self.depth > 0 {
            return Err(ProbeError::Found(Shape::Unsupported(
                "an Option or Vec inside another",
            )));
        }
        Ok(outer)
    }
}

macro_rules! scalar_probe {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
            Err(ProbeError::Found(Shape::Scalar))
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe {
    type Error = ProbeError;

    scalar_probe!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_identifier
    );

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported(
            "a self-describing value (like serde_json::Value)",
        )))
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("bytes")))
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("bytes")))
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let outer = self.nested(Shape::Optional)?;
        match visitor.visit_some(Probe {
            depth: self.depth + 1,
        }) {
            Err(ProbeError::Found(Shape::Scalar)) => Err(ProbeError::Found(outer)),
            other => other,
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("()")))
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("a unit struct")))
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let outer = self.nested(Shape::Repeated)?;
        struct One(u8);
        impl<'de> de::SeqAccess<'de> for One {
            type Error = ProbeError;
            fn next_element_seed<T: DeserializeSeed<'de>>(
                &mut self,
                seed: T,
            ) -> Result<Option<T::Value>, ProbeError> {
                seed.deserialize(Probe { depth: self.0 }).map(Some)
            }
        }
        match visitor.visit_seq(One(self.depth + 1)) {
            Err(ProbeError::Found(Shape::Scalar)) => Err(ProbeError::Found(outer)),
            other => other,
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("a tuple")))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("a tuple struct")))
    }
    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("a map")))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Unsupported("a struct")))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeError> {
        // Data-carrying variants are refused when parsed; the name of a
        // fieldless one is a scalar.
        Err(ProbeError::Found(Shape::Scalar))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Found(Shape::Scalar))
    }
}

/// Parses the values a URL holds for one argument (none, one, or several
/// for a repeated query parameter) as a `T`.
pub(crate) fn from_values<T: DeserializeOwned>(values: &[&str]) -> Result<T, String> {
    T::deserialize(Values { values }).map_err(|e| e.0)
}

/// An error reading a URL value: a plain message.
#[derive(Debug)]
struct ValueError(String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// The values of one argument.
struct Values<'a> {
    values: &'a [&'a str],
}

impl<'a> Values<'a> {
    fn one(&self) -> Result<&'a str, ValueError> {
        match self.values {
            [one] => Ok(one),
            [] => Err(ValueError("missing".into())),
            _ => Err(ValueError(format!(
                "expected one value, got {}",
                self.values.len()
            ))),
        }
    }
}

macro_rules! parse_scalar {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            let text = self.one()?;
            let value: $ty = text
                .parse()
                .map_err(|e| ValueError(format!("`{text}`: {e}")))?;
            visitor.$visit(value)
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for Values<'a> {
    type Error = ValueError;

    parse_scalar!(
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_char => visit_char: char
    );

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_str(self.one()?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_str(self.one()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.one()?.to_string())
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_str(self.one()?)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        if self.values.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        struct Each<'a>(std::slice::Iter<'a, &'a str>);
        impl<'de, 'a> de::SeqAccess<'de> for Each<'a> {
            type Error = ValueError;
            fn next_element_seed<T: DeserializeSeed<'de>>(
                &mut self,
                seed: T,
            ) -> Result<Option<T::Value>, ValueError> {
                match self.0.next() {
                    Some(v) => seed
                        .deserialize(Values {
                            values: std::slice::from_ref(v),
                        })
                        .map(Some),
                    None => Ok(None),
                }
            }
        }
        visitor.visit_seq(Each(self.values.iter()))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        let name: de::value::StrDeserializer<'_, ValueError> = self.one()?.into_deserializer();
        visitor.visit_enum(name)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct tuple tuple_struct map struct
    }
}

/// Writes `value` as the text of URL values (one, none for `None`, several
/// for a sequence), for the generated client.
pub(crate) fn to_values<T: Serialize + ?Sized>(value: &T) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    value
        .serialize(ValueWriter { out: &mut out })
        .map_err(|e| Error::invalid_argument(format!("cannot write a URL value: {e}")))?;
    Ok(out)
}

struct ValueWriter<'a> {
    out: &'a mut Vec<String>,
}

macro_rules! write_display {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), ValueError> {
            self.out.push(v.to_string());
            Ok(())
        }
    )*};
}

fn unsupported(what: &str) -> ValueError {
    ValueError(format!("{what} cannot travel in a URL"))
}

impl<'a> ser::Serializer for ValueWriter<'a> {
    type Ok = ();
    type Error = ValueError;
    type SerializeSeq = Self;
    type SerializeTuple = Impossible<(), ValueError>;
    type SerializeTupleStruct = Impossible<(), ValueError>;
    type SerializeTupleVariant = Impossible<(), ValueError>;
    type SerializeMap = Impossible<(), ValueError>;
    type SerializeStruct = Impossible<(), ValueError>;
    type SerializeStructVariant = Impossible<(), ValueError>;

    write_display!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str
    );

    fn serialize_bytes(self, _: &[u8]) -> Result<(), ValueError> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), ValueError> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), ValueError> {
        Err(unsupported("()"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), ValueError> {
        Err(unsupported("a unit struct"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), ValueError> {
        self.out.push(variant.to_string());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), ValueError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, ValueError> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(unsupported("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(unsupported("a map"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(unsupported("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(unsupported("an enum variant with data"))
    }
}

impl<'a> ser::SerializeSeq for ValueWriter<'a> {
    type Ok = ();
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        value.serialize(ValueWriter {
            out: &mut *self.out,
        })
    }
    fn end(self) -> Result<(), ValueError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Bolt,
        WingNut,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(transparent)]
    struct Id(String);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair {
        a: u32,
    }

    #[test]
    fn shapes() {
        assert_eq!(shape::<u32>(), Shape::Scalar);
        assert_eq!(shape::<String>(), Shape::Scalar);
        assert_eq!(shape::<Kind>(), Shape::Scalar);
        assert_eq!(shape::<Id>(), Shape::Scalar);
        assert_eq!(shape::<Option<Id>>(), Shape::Optional);
        assert_eq!(shape::<Vec<Kind>>(), Shape::Repeated);
        assert!(matches!(shape::<Pair>(), Shape::Unsupported(_)));
        assert!(matches!(
            shape::<HashMap<String, u32>>(),
            Shape::Unsupported(_)
        ));
        assert!(matches!(shape::<Vec<Vec<u32>>>(), Shape::Unsupported(_)));
        assert!(matches!(shape::<Option<Vec<u32>>>(), Shape::Unsupported(_)));
        assert!(matches!(shape::<Vec<Pair>>(), Shape::Unsupported(_)));
    }

    #[test]
    fn reads_values() {
        assert_eq!(from_values::<u32>(&["42"]), Ok(42));
        assert_eq!(from_values::<Kind>(&["wing_nut"]), Ok(Kind::WingNut));
        assert_eq!(from_values::<Id>(&["a b"]), Ok(Id("a b".into())));
        assert_eq!(from_values::<Option<bool>>(&[]), Ok(None));
        assert_eq!(from_values::<Option<bool>>(&["true"]), Ok(Some(true)));
        assert_eq!(
            from_values::<Vec<String>>(&["a", "b"]),
            Ok(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(from_values::<Vec<String>>(&[]), Ok(vec![]));
        assert!(from_values::<u32>(&["-1"]).unwrap_err().contains("`-1`"));
        assert!(from_values::<Kind>(&["screw"])
            .unwrap_err()
            .contains("unknown variant"));
        assert!(from_values::<u32>(&["1", "2"])
            .unwrap_err()
            .contains("one value"));
    }

    #[test]
    fn writes_values() {
        assert_eq!(to_values(&7u8).unwrap(), ["7"]);
        assert_eq!(to_values(&Kind::WingNut).unwrap(), ["wing_nut"]);
        assert_eq!(to_values(&Id("x".into())).unwrap(), ["x"]);
        assert!(to_values(&None::<u32>).unwrap().is_empty());
        assert_eq!(to_values(&vec![1, 2]).unwrap(), ["1", "2"]);
        assert!(to_values(&Pair { a: 1 }).is_err());
    }
}
