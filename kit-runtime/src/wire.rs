//! The types an endpoint sends and receives, checked once.
//!
//! Generated code gets every serde capability it needs from one
//! [`WireCodec`], made by [`wire`] at the type the user wrote. The codec
//! carries plain function pointers, so nothing else in the generated server
//! or client puts a serde bound on the type: a type that cannot cross the
//! wire is reported once, at its own span, not at every use.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::Error;

/// Encodes and decodes one type as JSON.
pub struct WireCodec<T> {
    decode: fn(&[u8]) -> Result<T, serde_json::Error>,
    decode_path: fn(&[u8]) -> Result<T, String>,
    encode: fn(&T) -> Result<Vec<u8>, serde_json::Error>,
    encode_into: fn(&mut Vec<u8>, &T) -> Result<(), serde_json::Error>,
}

impl<T> Clone for WireCodec<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for WireCodec<T> {}

/// The codec of `T`: the one place its serde bounds are checked.
pub const fn wire<T: Serialize + DeserializeOwned>() -> WireCodec<T> {
    WireCodec {
        decode: |bytes| serde_json::from_slice(bytes),
        decode_path: |bytes| {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    e.into_inner().to_string()
                } else {
                    format!("at `{path}`: {}", e.into_inner())
                }
            })?;
            de.end().map_err(|e| e.to_string())?;
            Ok(value)
        },
        encode: |value| serde_json::to_vec(value),
        encode_into: |buf, value| serde_json::to_writer(buf, value),
    }
}

impl<T> WireCodec<T> {
    /// Parses `bytes` as a `T`.
    pub fn decode(&self, bytes: &[u8]) -> Result<T, serde_json::Error> {
        (self.decode)(bytes)
    }

    /// Parses `bytes` as a `T`; an error names the path of the value that
    /// did not fit (`shape.rect.w`).
    pub fn decode_with_path(&self, bytes: &[u8]) -> Result<T, String> {
        (self.decode_path)(bytes)
    }

    /// Serializes `value`.
    pub fn encode(&self, value: &T) -> Result<Vec<u8>, serde_json::Error> {
        (self.encode)(value)
    }

    /// Serializes `value` at the end of `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>, value: &T) -> Result<(), serde_json::Error> {
        (self.encode_into)(buf, value)
    }

    /// Serializes a request body; an encoding failure is the caller's INVALID_ARGUMENT.
    pub fn body(&self, value: &T) -> Result<Bytes, Error> {
        self.encode(value)
            .map(Bytes::from)
            .map_err(|e| Error::invalid_argument(format!("cannot encode the request as JSON: {e}")))
    }
}

/// A JSON object body split into its named fields, each decoded on demand
/// with its own codec (one per endpoint argument).
pub struct BodyFields {
    body: Bytes,
    names: &'static [&'static str],
    /// Byte ranges of each named field's value in `body`.
    values: Vec<Option<(usize, usize)>>,
}

impl BodyFields {
    /// Splits `body`, a JSON object, into the fields `names`; other fields
    /// are ignored.
    pub fn parse(body: Bytes, names: &'static [&'static str]) -> Result<BodyFields, Error> {
        let base = body.as_ptr() as usize;
        let mut de = serde_json::Deserializer::from_slice(&body);
        let values = de
            .deserialize_map(FieldsVisitor { names, base })
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| Error::invalid_argument(format!("invalid JSON body: {e}")))?;
        Ok(BodyFields {
            body: body.clone(),
            names,
            values,
        })
    }

    /// Decodes field number `index`. A missing field reads as JSON `null`,
    /// so `Option` fields may be left out.
    pub fn field<T>(&self, index: usize, codec: WireCodec<T>) -> Result<T, Error> {
        let name = self.names.get(index).copied().unwrap_or("?");
        match self.values.get(index).copied().flatten() {
            Some((start, end)) => codec.decode(&self.body[start..end]).map_err(|e| {
                Error::invalid_argument(format!("invalid JSON body: field `{name}`: {e}"))
            }),
            None => codec.decode(b"null").map_err(|_| {
                Error::invalid_argument(format!("invalid JSON body: missing field `{name}`"))
            }),
        }
    }
}

struct FieldsVisitor {
    names: &'static [&'static str],
    /// Address of the body's first byte, to turn borrowed slices into ranges.
    base: usize,
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<Option<(usize, usize)>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object with fields {:?}", self.names)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.names.len()];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.names.iter().position(|n| *n == key) {
                Some(i) => {
                    let raw = map.next_value::<&'de RawValue>()?.get();
                    let start = raw.as_ptr() as usize - self.base;
                    values[i] = Some((start, start + raw.len()));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// Writes a JSON object body one field at a time (the client side of
/// [`BodyFields`]).
pub struct JsonObject {
    buf: Vec<u8>,
}

impl Default for JsonObject {
    fn default() -> Self {
        JsonObject::new()
    }
}

impl JsonObject {
    /// `{`.
    pub fn new() -> JsonObject {
        let mut buf = Vec::with_capacity(128);
        buf.push(b'{');
        JsonObject { buf }
    }

    /// Adds `"name": value`; `name` is an argument name (a Rust identifier,
    /// so it needs no escaping).
    pub fn field<T>(
        mut self,
        name: &str,
        codec: WireCodec<T>,
        value: &T,
    ) -> Result<JsonObject, Error> {
        self.key(name);
        codec
            .encode_into(&mut self.buf, value)
            .map_err(|e| Error::invalid_argument(format!("cannot encode `{name}` as JSON: {e}")))?;
        Ok(self)
    }

    /// Adds a URL argument `"name": value` (in a NATS payload), through
    /// the URL codec its type was already checked with.
    pub fn url_field<T>(
        mut self,
        name: &str,
        codec: crate::url::UrlCodec<T>,
        value: &T,
    ) -> Result<JsonObject, Error> {
        self.key(name);
        codec
            .json_into(&mut self.buf, value)
            .map_err(|e| Error::invalid_argument(format!("cannot encode `{name}` as JSON: {e}")))?;
        Ok(self)
    }

    fn key(&mut self, name: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// `}`, as a body.
    pub fn finish(mut self) -> Bytes {
        self.buf.push(b'}');
        Bytes::from(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["s", "n", "opt"];

    #[test]
    fn fields_round_trip() {
        let body = JsonObject::new()
            .field("s", wire::<String>(), &"a \"quoted\" \\ string".to_string())
            .unwrap()
            .field("n", wire::<Vec<u32>>(), &vec![1, 2])
            .unwrap()
            .finish();
        let fields = BodyFields::parse(body, NAMES).unwrap();
        assert_eq!(
            fields.field(0, wire::<String>()).unwrap(),
            "a \"quoted\" \\ string"
        );
        assert_eq!(fields.field(1, wire::<Vec<u32>>()).unwrap(), vec![1, 2]);
        assert_eq!(fields.field(2, wire::<Option<u8>>()).unwrap(), None);
    }

    #[test]
    fn errors_name_the_field() {
        let fields = BodyFields::parse(
            Bytes::from_static(br#"{"s": 1, "extra": {"x": [1]}}"#),
            NAMES,
        )
        .unwrap();
        let err = fields.field(0, wire::<String>()).unwrap_err();
        assert!(
            err.message().contains("field `s`") && err.message().contains("expected a string"),
            "{err}"
        );
        let err = fields.field(1, wire::<u32>()).unwrap_err();
        assert!(err.message().contains("missing field `n`"), "{err}");
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        for bad in [&b"[1]"[..], b"{\"s\":", b"{} {}", b"", b"\"s\""] {
            assert!(
                BodyFields::parse(Bytes::from_static(bad), NAMES).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn escaped_keys_still_match() {
        let fields = BodyFields::parse(Bytes::from_static(br#"{"\u0073": "x"}"#), NAMES).unwrap();
        assert_eq!(fields.field(0, wire::<String>()).unwrap(), "x");
    }
}
