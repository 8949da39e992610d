//! W3C Trace Context `traceparent`, read from a header value as the server
//! reads it, against the specification's parsing rules: version, trace id,
//! parent id and flags are lowercase hex of 2, 32, 16 and 2 digits joined
//! by `-`; version `ff` and all-zero ids are invalid; version `00` is
//! exactly 55 characters; a later version may append `-...` after them.
//! A valid header makes the server's span a child of the caller's; anything
//! else, a new root. Written back, the caller's context reads the same.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

use kit_runtime::trace::TraceContext;

/// (trace id, parent span id, sampled) per the W3C specification.
fn reference(value: &str) -> Option<(u128, u64, bool)> {
    let b = value.trim_matches([' ', '\t']).as_bytes();
    let lower_hex = |s: &[u8]| {
        s.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (version, trace, span, flags) = (&b[..2], &b[3..35], &b[36..52], &b[53..55]);
    if !lower_hex(version)
        || version == b"ff"
        || !lower_hex(trace)
        || !lower_hex(span)
        || !lower_hex(flags)
    {
        return None;
    }
    if (version == b"00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let hex = |s: &[u8]| u128::from_str_radix(std::str::from_utf8(s).unwrap(), 16).unwrap();
    let (trace, span, flags) = (hex(trace), hex(span) as u64, hex(flags) as u8);
    if trace == 0 || span == 0 {
        return None;
    }
    Some((trace, span, flags & 1 == 1))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // Whatever the string, parsing must not panic, and what it accepts
        // writes back to a value that parses the same.
        if let Some(tc) = TraceContext::parse(text) {
            let again = TraceContext::parse(&tc.to_traceparent()).expect("its own output parses");
            assert_eq!(again, tc);
            assert_eq!(
                tc.to_traceparent().as_bytes(),
                tc.traceparent_bytes().as_slice()
            );
        }
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", value.clone());
    let ours = TraceContext::from_headers(&headers);
    let expected = value.to_str().ok().and_then(reference);
    match expected {
        Some((trace, span, sampled)) => {
            assert_eq!(ours.trace_id().0, trace, "{value:?}");
            assert_eq!(ours.parent_span_id(), Some(span), "{value:?}");
            assert_eq!(ours.sampled(), sampled, "{value:?}");
        }
        None => assert_eq!(
            ours.parent_span_id(),
            None,
            "{value:?} is not a valid traceparent"
        ),
    }
});
