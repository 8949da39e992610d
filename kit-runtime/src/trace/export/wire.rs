//! The OTLP protobuf messages kit sends, encoded straight from its span
//! records (no message structs with owned strings per attribute): an
//! `ExportTraceServiceRequest` holding one resource, one scope and a batch
//! of spans, as `opentelemetry/proto/collector/trace/v1` defines them.

use bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};

use super::{unix_nanos, SpanKind, SpanRecord, Value};

fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn put_len(buf: &mut BytesMut, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes(buf: &mut BytesMut, tag: u32, bytes: &[u8]) {
    put_len(buf, tag, bytes.len());
    buf.put_slice(bytes);
}

/// An attribute value, its text already formatted.
enum Attr<'a> {
    Str(&'a str),
    Int(i64),
}

fn any_len(v: &Attr<'_>) -> usize {
    match v {
        Attr::Str(s) => len_field(1, s.len()),
        Attr::Int(n) => key_len(3) + encoded_len_varint(*n as u64),
    }
}

fn key_value_len(key: &str, v: &Attr<'_>) -> usize {
    len_field(1, key.len()) + len_field(2, any_len(v))
}

/// A `KeyValue` as field `tag`.
fn put_key_value(buf: &mut BytesMut, tag: u32, key: &str, v: &Attr<'_>) {
    put_len(buf, tag, key_value_len(key, v));
    put_bytes(buf, 1, key.as_bytes());
    put_len(buf, 2, any_len(v));
    match v {
        Attr::Str(s) => put_bytes(buf, 1, s.as_bytes()),
        Attr::Int(n) => {
            encode_key(3, WireType::Varint, buf);
            encode_varint(*n as u64, buf);
        }
    }
}

/// The body of a `Resource` (its attributes), sent with every batch.
pub(super) fn resource(attributes: &[(String, String)]) -> Bytes {
    let mut buf = BytesMut::new();
    for (k, v) in attributes {
        put_key_value(&mut buf, 1, k, &Attr::Str(v));
    }
    buf.freeze()
}

/// Appends one span as field 2 of `ScopeSpans`.
pub(super) fn put_span(buf: &mut BytesMut, s: &SpanRecord) {
    // Addresses are formatted here, off the request path.
    let ips: Vec<String> = s
        .attributes
        .iter()
        .filter_map(|(_, v)| match v {
            Value::Ip(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    let mut next_ip = ips.iter();
    let attrs: Vec<(&str, Attr<'_>)> = s
        .attributes
        .iter()
        .map(|(k, v)| {
            let a = match v {
                Value::Str(s) => Attr::Str(s),
                Value::Int(n) => Attr::Int(*n),
                Value::Ip(_) => Attr::Str(next_ip.next().map_or("", String::as_str)),
            };
            (*k, a)
        })
        .collect();
    let kind: u64 = match s.kind {
        SpanKind::Server => 2,
        SpanKind::Client => 3,
    };
    // Sampled; whether the parent is remote (server spans) is known.
    let flags: u32 = 0x01
        | match (s.kind, s.parent_span_id) {
            (SpanKind::Server, Some(_)) => 0x300,
            (_, Some(_)) => 0x100,
            (_, None) => 0,
        };
    let message = s.error.as_deref().unwrap_or("");
    let code: u64 = if s.error.is_some() { 2 } else { 0 };
    let status_len = if message.is_empty() {
        0
    } else {
        len_field(2, message.len())
    } + if code == 0 {
        0
    } else {
        key_len(3) + encoded_len_varint(code)
    };
    let len = len_field(1, 16)
        + len_field(2, 8)
        + s.parent_span_id.map_or(0, |_| len_field(4, 8))
        + len_field(5, s.name.len())
        + key_len(6)
        + encoded_len_varint(kind)
        + (key_len(7) + 8)
        + (key_len(8) + 8)
        + attrs
            .iter()
            .map(|(k, v)| len_field(9, key_value_len(k, v)))
            .sum::<usize>()
        + len_field(15, status_len)
        + (key_len(16) + 4);
    put_len(buf, 2, len);
    put_bytes(buf, 1, &s.trace_id.to_be_bytes());
    put_bytes(buf, 2, &s.span_id.to_be_bytes());
    if let Some(parent) = s.parent_span_id {
        put_bytes(buf, 4, &parent.to_be_bytes());
    }
    put_bytes(buf, 5, s.name.as_bytes());
    encode_key(6, WireType::Varint, buf);
    encode_varint(kind, buf);
    encode_key(7, WireType::SixtyFourBit, buf);
    buf.put_u64_le(unix_nanos(s.start));
    encode_key(8, WireType::SixtyFourBit, buf);
    buf.put_u64_le(unix_nanos(s.end));
    for (k, v) in &attrs {
        put_key_value(buf, 9, k, v);
    }
    put_len(buf, 15, status_len);
    if !message.is_empty() {
        put_bytes(buf, 2, message.as_bytes());
    }
    if code != 0 {
        encode_key(3, WireType::Varint, buf);
        encode_varint(code, buf);
    }
    encode_key(16, WireType::ThirtyTwoBit, buf);
    buf.put_u32_le(flags);
}

/// The `ExportTraceServiceRequest` for `spans` (each already encoded by
/// [`put_span`]), from `resource` and the `kit` scope.
pub(super) fn request(resource: &[u8], spans: &[u8]) -> Bytes {
    let name = b"kit";
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let scope_len = len_field(1, name.len()) + len_field(2, version.len());
    let scope_spans_len = len_field(1, scope_len) + spans.len();
    let resource_spans_len = len_field(1, resource.len()) + len_field(2, scope_spans_len);
    let mut buf = BytesMut::with_capacity(len_field(1, resource_spans_len));
    put_len(&mut buf, 1, resource_spans_len);
    put_bytes(&mut buf, 1, resource);
    put_len(&mut buf, 2, scope_spans_len);
    put_len(&mut buf, 1, scope_len);
    put_bytes(&mut buf, 1, name);
    put_bytes(&mut buf, 2, version);
    buf.put_slice(spans);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use prost::Message;
    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_generated_types_read_what_kit_writes() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let record = SpanRecord {
            trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
            span_id: 0x00f067aa0ba902b7,
            parent_span_id: Some(7),
            name: Cow::Borrowed("POST /relay"),
            kind: SpanKind::Server,
            start,
            end: start + Duration::from_millis(3),
            attributes: vec![
                ("http.route", Value::Str(Cow::Borrowed("/relay"))),
                ("http.response.status_code", Value::Int(500)),
                ("server.address", Value::Ip([127, 0, 0, 1].into())),
            ],
            error: Some("INTERNAL".into()),
        };
        let mut spans = BytesMut::new();
        put_span(&mut spans, &record);
        put_span(&mut spans, &record);
        let resource = resource(&[("service.name".into(), "chain-a".into())]);
        let bytes = request(&resource, &spans);
        let decoded = ExportTraceServiceRequest::decode(bytes).unwrap();
        let rs = &decoded.resource_spans[0];
        let attr = &rs.resource.as_ref().unwrap().attributes[0];
        assert_eq!(attr.key, "service.name");
        let scope = &rs.scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "kit");
        assert_eq!(scope.spans.len(), 2);
        let span = &scope.spans[0];
        assert_eq!(span.trace_id, record.trace_id.to_be_bytes());
        assert_eq!(span.span_id, record.span_id.to_be_bytes());
        assert_eq!(span.parent_span_id, 7u64.to_be_bytes());
        assert_eq!(span.name, "POST /relay");
        assert_eq!(span.kind, 2);
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            3_000_000
        );
        assert_eq!(span.flags, 0x301);
        let status = span.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "INTERNAL"));
        let values: Vec<(String, Option<any_value::Value>)> = span
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone().and_then(|v| v.value)))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "http.route".into(),
                    Some(any_value::Value::StringValue("/relay".into()))
                ),
                (
                    "http.response.status_code".into(),
                    Some(any_value::Value::IntValue(500))
                ),
                (
                    "server.address".into(),
                    Some(any_value::Value::StringValue("127.0.0.1".into()))
                ),
            ]
        );
    }
}
