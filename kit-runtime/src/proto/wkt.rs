//! Time and bytes that look the same on both transports: protobuf's
//! well-known types with protobuf's JSON mapping.
//!
//! `std::time::SystemTime`, `std::time::Duration` and `Vec<u8>` are
//! protobuf `Timestamp`, `Duration` and `bytes` over gRPC, but over JSON
//! they keep serde's own forms (`{"secs_since_epoch":..}`, an array of
//! numbers). [`Timestamp`], [`Duration`] and [`Bytes`] are the same values
//! with the JSON forms protobuf specifies (an RFC 3339 string, `"1.5s"`,
//! base64), so an HTTP caller and a gRPC caller see one contract.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut};
use prost::encoding::WireType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schema::{FieldType, Schema};
use super::value::Repeatable;
use super::{DecodeError, Depth, ProtoField};

/// A point in time: `google.protobuf.Timestamp` over gRPC, an RFC 3339
/// string (`"2026-11-28T08:40:00.5Z"`) over JSON.
///
/// ```
/// use kit_runtime::proto::Timestamp;
/// let t = Timestamp::from(std::time::UNIX_EPOCH + std::time::Duration::from_millis(1500));
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#""1970-01-01T00:00:01.500Z""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub SystemTime);

/// A span of time: `google.protobuf.Duration` over gRPC, seconds with an
/// `s` suffix (`"1.5s"`) over JSON.
///
/// ```
/// use kit_runtime::proto::Duration;
/// let d = Duration::from(std::time::Duration::from_millis(1500));
/// assert_eq!(serde_json::to_string(&d).unwrap(), r#""1.500s""#);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

/// Bytes: protobuf `bytes` over gRPC, a base64 string over JSON.
///
/// ```
/// use kit_runtime::proto::Bytes;
/// assert_eq!(serde_json::to_string(&Bytes::from(b"kit".to_vec())).unwrap(), r#""a2l0""#);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Default for Timestamp {
    fn default() -> Self {
        Timestamp(UNIX_EPOCH)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(t)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(b)
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Self {
        b.0
    }
}

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        Timestamp(SystemTime::now())
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf's
    /// JSON mapping writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_rfc3339_nanos(self.0).to_string();
        // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ": trim the fraction to 0/3/6/9 digits.
        let Some((whole, nanos)) = text.trim_end_matches('Z').split_once('.') else {
            return f.write_str(&text);
        };
        let digits = match nanos.trim_end_matches('0').len() {
            0 => 0,
            1..=3 => 3,
            4..=6 => 6,
            _ => 9,
        };
        if digits == 0 {
            write!(f, "{whole}Z")
        } else {
            write!(f, "{whole}.{}Z", &nanos[..digits])
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = (self.0.as_secs(), self.0.subsec_nanos());
        if nanos == 0 {
            write!(f, "{secs}s")
        } else if nanos % 1_000_000 == 0 {
            write!(f, "{secs}.{:03}s", nanos / 1_000_000)
        } else if nanos % 1_000 == 0 {
            write!(f, "{secs}.{:06}s", nanos / 1_000)
        } else {
            write!(f, "{secs}.{nanos:09}s")
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
            .or_else(|_| humantime::parse_rfc3339(s))
            .map(Timestamp)
            .map_err(|e| format!("`{s}` is not an RFC 3339 UTC timestamp: {e}"))
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration like \"1.5s\"");
        let number = s.strip_suffix('s').ok_or_else(bad)?;
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let secs: u64 = whole.parse().map_err(|_| bad())?;
        let nanos: u32 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

macro_rules! json_as_text {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

json_as_text!(Timestamp, Duration);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::base64::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        crate::base64::decode(&text)
            .map(Bytes)
            .ok_or_else(|| serde::de::Error::custom("not base64"))
    }
}

/// `ProtoField` by delegating to the std type with the same encoding.
macro_rules! proto_as {
    ($ty:ty, $inner:ty) => {
        impl ProtoField for $ty {
            const WIRE_TYPE: WireType = <$inner as ProtoField>::WIRE_TYPE;
            const PACKED: bool = <$inner as ProtoField>::PACKED;
            fn proto_type(schema: &mut Schema) -> FieldType {
                <$inner>::proto_type(schema)
            }
            fn proto_default() -> Self {
                Self(<$inner>::proto_default())
            }
            fn is_proto_default(&self) -> bool {
                self.0.is_proto_default()
            }
            fn encode_value(&self, buf: &mut impl BufMut) {
                self.0.encode_value(buf)
            }
            fn value_len(&self) -> usize {
                self.0.value_len()
            }
            fn merge_value(&mut self, buf: &mut impl Buf, depth: Depth) -> Result<(), DecodeError> {
                self.0.merge_value(buf, depth)
            }
        }

        impl Repeatable for $ty {}

        crate::__grpc_payload_wrapped!($ty);
    };
}

proto_as!(Timestamp, SystemTime);
proto_as!(Duration, std::time::Duration);
proto_as!(Bytes, Vec<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_the_protobuf_json_mapping() {
        let t = |ms: u64, ns: u32| {
            Timestamp(
                UNIX_EPOCH
                    + std::time::Duration::from_millis(ms)
                    + std::time::Duration::from_nanos(ns.into()),
            )
        };
        assert_eq!(t(0, 0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(t(1_500, 0).to_string(), "1970-01-01T00:00:01.500Z");
        assert_eq!(t(0, 1_000).to_string(), "1970-01-01T00:00:00.000001Z");
        assert_eq!(t(0, 7).to_string(), "1970-01-01T00:00:00.000000007Z");
        for ts in [t(0, 0), t(1_700_000_000_123, 0), t(5, 999)] {
            let json = serde_json::to_string(&ts).unwrap();
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                ts,
                "{json}"
            );
        }
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn durations_follow_the_protobuf_json_mapping() {
        let d = |s: u64, ns: u32| Duration(std::time::Duration::new(s, ns));
        assert_eq!(d(3, 0).to_string(), "3s");
        assert_eq!(d(1, 500_000_000).to_string(), "1.500s");
        assert_eq!(d(0, 1_000).to_string(), "0.000001s");
        assert_eq!(d(0, 1).to_string(), "0.000000001s");
        for v in [d(3, 0), d(1, 500_000_000), d(0, 1)] {
            assert_eq!(v.to_string().parse::<Duration>().unwrap(), v);
        }
        assert_eq!("1.5s".parse::<Duration>().unwrap(), d(1, 500_000_000));
        assert!("1.5".parse::<Duration>().is_err());
        assert!("-1s".parse::<Duration>().is_err());
    }

    #[test]
    fn bytes_are_base64_in_json() {
        let b = Bytes(vec![0, 1, 2, 250, 251]);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, "\"AAEC+vs=\"");
        assert_eq!(serde_json::from_str::<Bytes>(&json).unwrap(), b);
    }
}
