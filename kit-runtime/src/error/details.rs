//! Error details across transports, and typed errors.
//!
//! Over HTTP an error's details are the `details` array of the AIP-193
//! body; over gRPC they are the `google.rpc.Status` in the standard
//! `grpc-status-details-bin` trailer, each detail a `google.protobuf.Any`:
//! a `google.rpc.ErrorInfo` when the detail is one (`"@type"` says so),
//! otherwise the JSON value as a `google.protobuf.Value`. So every caller
//! sees the standard shapes, and kit clients get the same details back on
//! either transport.

use std::collections::BTreeMap;

use prost::Message as _;
use prost_types::value::Kind;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// The `@type` of a `google.rpc.ErrorInfo` detail.
const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const PROTOBUF_VALUE: &str = "type.googleapis.com/google.protobuf.Value";
/// The ErrorInfo metadata key holding the Rust type of a typed detail.
const TYPE_KEY: &str = "kit.type";
/// The ErrorInfo metadata key holding a typed detail's value, as JSON.
const VALUE_KEY: &str = "kit.value";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// `google.rpc.ErrorInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(btree_map = "string, string", tag = "3")]
    metadata: BTreeMap<String, String>,
}

/// The ErrorInfo detail that carries `value` (of Rust type `T`).
pub(super) fn typed_detail<T: Serialize + ?Sized>(value: &T) -> Option<Value> {
    let json = serde_json::to_value(value).ok()?;
    let type_name = std::any::type_name::<T>();
    let domain = type_name.split("::").next().unwrap_or(type_name);
    // An externally tagged enum serializes as {"Variant": ...}: the variant
    // is the reason; otherwise the type is.
    let reason = match &json {
        Value::Object(map) if map.len() == 1 => map.keys().next().cloned(),
        Value::String(unit_variant) => Some(unit_variant.clone()),
        _ => None,
    }
    .unwrap_or_else(|| {
        type_name
            .rsplit("::")
            .next()
            .unwrap_or(type_name)
            .to_string()
    });
    Some(serde_json::json!({
        "@type": ERROR_INFO,
        "reason": screaming(&reason),
        "domain": domain,
        "metadata": {
            TYPE_KEY: type_name,
            VALUE_KEY: json.to_string(),
        },
    }))
}

/// The first detail that [`typed_detail`] made from a `T`, decoded.
pub(super) fn find_typed<T: DeserializeOwned>(details: &[Value]) -> Option<T> {
    let type_name = std::any::type_name::<T>();
    details.iter().find_map(|d| {
        let meta = d.get("metadata")?;
        if d.get("@type")?.as_str()? != ERROR_INFO || meta.get(TYPE_KEY)?.as_str()? != type_name {
            return None;
        }
        serde_json::from_str(meta.get(VALUE_KEY)?.as_str()?).ok()
    })
}

/// `grpc-status-details-bin`: the status with every detail as an `Any`.
pub(crate) fn to_status_details(code: i32, message: &str, details: &[Value]) -> Vec<u8> {
    RpcStatus {
        code,
        message: message.to_string(),
        details: details.iter().map(to_any).collect(),
    }
    .encode_to_vec()
}

/// The details of a `grpc-status-details-bin` value, as JSON (empty if it
/// is not a `google.rpc.Status`).
pub(crate) fn from_status_details(bytes: &[u8]) -> Vec<Value> {
    match RpcStatus::decode(bytes) {
        Ok(status) => status.details.iter().filter_map(from_any).collect(),
        Err(_) => Vec::new(),
    }
}

fn to_any(detail: &Value) -> prost_types::Any {
    if detail.get("@type").and_then(Value::as_str) == Some(ERROR_INFO) {
        let text = |key: &str| {
            detail
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let metadata = detail
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), String::from),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let info = ErrorInfo {
            reason: text("reason"),
            domain: text("domain"),
            metadata,
        };
        return prost_types::Any {
            type_url: ERROR_INFO.into(),
            value: info.encode_to_vec(),
        };
    }
    prost_types::Any {
        type_url: PROTOBUF_VALUE.into(),
        value: to_proto_value(detail).encode_to_vec(),
    }
}

fn from_any(any: &prost_types::Any) -> Option<Value> {
    match any.type_url.as_str() {
        ERROR_INFO => {
            let info = ErrorInfo::decode(any.value.as_slice()).ok()?;
            Some(serde_json::json!({
                "@type": ERROR_INFO,
                "reason": info.reason,
                "domain": info.domain,
                "metadata": info.metadata,
            }))
        }
        PROTOBUF_VALUE => Some(from_proto_value(
            &prost_types::Value::decode(any.value.as_slice()).ok()?,
        )),
        // Another server's detail type: kept as its type and bytes.
        other => Some(serde_json::json!({
            "@type": other,
            "value_base64": crate::base64::encode(&any.value),
        })),
    }
}

fn to_proto_value(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(to_proto_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o
                .iter()
                .map(|(k, v)| (k.clone(), to_proto_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

fn from_proto_value(v: &prost_types::Value) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            // Integers come back as integers when they are.
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Value::Number(Number::from(*n as i64))
            } else {
                Number::from_f64(*n).map_or(Value::Null, Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(from_proto_value).collect()),
        Some(Kind::StructValue(s)) => Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), from_proto_value(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// `NotFound` -> `NOT_FOUND`, as ErrorInfo reasons are written.
fn screaming(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_uppercase());
    }
    out.replace(['-', ' '], "_")
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum StockError {
        OutOfStock { sku: String, have: u32 },
        Locked,
    }

    #[test]
    fn typed_details_round_trip_through_the_grpc_trailer() {
        let e = StockError::OutOfStock {
            sku: "b-1".into(),
            have: 2,
        };
        let detail = typed_detail(&e).unwrap();
        assert_eq!(detail["reason"], "OUT_OF_STOCK");
        assert_eq!(detail["@type"], ERROR_INFO);
        let plain = serde_json::json!({"field": "qty", "n": 3, "ok": [true, null]});
        let bytes = to_status_details(9, "no", &[detail.clone(), plain.clone()]);
        let back = from_status_details(&bytes);
        assert_eq!(back, vec![detail, plain]);
        assert_eq!(find_typed::<StockError>(&back), Some(e));
        assert_eq!(find_typed::<String>(&back), None);
        let unit = typed_detail(&StockError::Locked).unwrap();
        assert_eq!(unit["reason"], "LOCKED");
    }
}
