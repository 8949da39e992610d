//! W3C Trace Context (`traceparent`): the identity of a request in a
//! distributed trace, carried by [`Context`](crate::Context) across hops;
//! and the export of spans to an OpenTelemetry receiver (OTLP).

use std::fmt;

pub(crate) mod export;

pub use crate::log::{init_subscriber, LogFormat};
pub use export::{
    flush_export, start_export, ExportConfig, Protocol, Sampler, SPANS_DROPPED, SPANS_EXPORTED,
};

use http::{HeaderMap, HeaderName, HeaderValue};

/// The `traceparent` header name.
pub(crate) const TRACEPARENT: &str = "traceparent";

/// The same, pre-parsed: a lookup by a `HeaderName` skips parsing the name.
pub(crate) static TRACEPARENT_HEADER: HeaderName = HeaderName::from_static(TRACEPARENT);

/// The identity of one span in a distributed trace, as carried by the W3C
/// `traceparent` header (`00-<trace id>-<parent span id>-<flags>`).
///
/// ```
/// use kit_runtime::trace::TraceContext;
/// let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// let child = parent.child();
/// assert_eq!(child.trace_id(), parent.trace_id());
/// assert_eq!(child.parent_span_id(), Some(parent.span_id()));
/// assert_ne!(child.span_id(), parent.span_id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    parent_span_id: Option<u64>,
    sampled: bool,
}

impl TraceContext {
    /// A new root span in a new trace.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: nonzero_u128(),
            span_id: nonzero_u64(),
            parent_span_id: None,
            sampled: true,
        }
    }

    /// A new span in the same trace whose parent is `self`.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: nonzero_u64(),
            parent_span_id: Some(self.span_id),
            sampled: self.sampled,
        }
    }

    /// Parses a `traceparent` value. Returns `None` for anything the W3C
    /// specification says to ignore (bad length, non-hex, all-zero ids,
    /// version `ff`).
    pub fn parse(value: &str) -> Option<TraceContext> {
        let mut parts = value.trim().split('-');
        let version = parts.next()?;
        let trace_id = parts.next()?;
        let span_id = parts.next()?;
        let flags = parts.next()?;
        // Every field is lowercase hex (`HEXDIGLC`): the specification says
        // to ignore a header with uppercase digits.
        let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        // Version 00 has exactly four fields; later versions may append more.
        if version.len() != 2
            || !hex(version)
            || version == "ff"
            || (version == "00" && parts.next().is_some())
        {
            return None;
        }
        if trace_id.len() != 32 || span_id.len() != 16 || flags.len() != 2 {
            return None;
        }
        if !hex(trace_id) || !hex(span_id) || !hex(flags) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace_id, 16).ok()?;
        let span_id = u64::from_str_radix(span_id, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            parent_span_id: None,
            sampled: flags & 1 == 1,
        })
    }

    /// The context of an incoming request: a child of the caller's span when
    /// the headers carry a valid `traceparent`, a new root otherwise.
    pub fn from_headers(headers: &HeaderMap) -> TraceContext {
        headers
            .get(&TRACEPARENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse)
            .map(|parent| parent.child())
            .unwrap_or_else(TraceContext::new_root)
    }

    /// The `traceparent` value naming this span as the parent.
    pub fn to_traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// The `traceparent` bytes, written without going through `fmt`
    /// (this runs on every outgoing call).
    pub fn traceparent_bytes(&self) -> [u8; 55] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 55];
        out[0] = b'0';
        out[1] = b'0';
        for i in 0..32 {
            out[3 + i] = HEX[((self.trace_id >> (124 - 4 * i)) & 0xf) as usize];
        }
        for i in 0..16 {
            out[36 + i] = HEX[((self.span_id >> (60 - 4 * i)) & 0xf) as usize];
        }
        out[53] = b'0';
        out[54] = if self.sampled { b'1' } else { b'0' };
        out
    }

    /// The `traceparent` as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Only hex digits and dashes: always a valid header value.
        HeaderValue::from_bytes(&self.traceparent_bytes()).unwrap_or(HeaderValue::from_static(""))
    }

    /// The 128-bit trace id shared by every span of the trace.
    pub fn trace_id(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// This span's id.
    pub fn span_id(&self) -> u64 {
        self.span_id
    }

    /// The caller's span id, when the trace was propagated to us.
    pub fn parent_span_id(&self) -> Option<u64> {
        self.parent_span_id
    }

    /// Whether the trace is sampled (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The same span, sampled or not.
    pub fn with_sampled(self, sampled: bool) -> TraceContext {
        TraceContext { sampled, ..self }
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_traceparent())
    }
}

/// A trace id, displayed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub u128);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn nonzero_u64() -> u64 {
    loop {
        let v = fastrand::u64(..);
        if v != 0 {
            return v;
        }
    }
}

fn nonzero_u128() -> u128 {
    loop {
        let v = fastrand::u128(..);
        if v != 0 {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_the_spec_example() {
        let tc = TraceContext::parse(SAMPLE).unwrap();
        assert_eq!(
            tc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(tc.span_id(), 0x00f0_67aa_0ba9_02b7);
        assert!(tc.sampled());
        assert_eq!(tc.to_traceparent(), SAMPLE);
    }

    #[test]
    fn fast_formatting_matches_fmt() {
        for _ in 0..100 {
            let tc = TraceContext::new_root().child();
            assert_eq!(
                tc.traceparent_bytes().as_slice(),
                tc.to_traceparent().as_bytes()
            );
        }
        let tc = TraceContext::parse(SAMPLE).unwrap();
        assert_eq!(tc.header_value(), SAMPLE);
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Found by fuzzing (fuzz/: traceparent): uppercase hex was
            // accepted, and a version with a sign.
            "00-0000000000000000000A000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "+1-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "CC-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn future_versions_may_append_fields() {
        let v = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future";
        let tc = TraceContext::parse(v).unwrap();
        assert!(!tc.sampled());
    }

    #[test]
    fn incoming_headers_make_a_child_or_a_root() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(SAMPLE));
        let child = TraceContext::from_headers(&headers);
        assert_eq!(
            child.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(child.parent_span_id(), Some(0x00f0_67aa_0ba9_02b7));

        let root = TraceContext::from_headers(&HeaderMap::new());
        assert_eq!(root.parent_span_id(), None);
        assert_ne!(root.trace_id(), child.trace_id());
    }
}
