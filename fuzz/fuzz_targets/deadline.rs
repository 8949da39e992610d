//! The deadline headers: `grpc-timeout` against the gRPC specification
//! ("TimeoutValue TimeoutUnit": 1 to 8 ASCII digits, then one of
//! H M S m u n) and `kit-timeout-ms` against "whole milliseconds"; both
//! read from a header value as the servers read them, then turned into a
//! deadline (a huge value must not overflow the clock). A malformed value
//! is the caller's INVALID_ARGUMENT. The first input byte picks the header.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;

use kit_runtime::fuzzing::{parse_grpc_timeout, timeout_header};

/// `grpc-timeout` as the gRPC over HTTP/2 specification defines it.
fn grpc_reference(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `kit-timeout-ms`: whole milliseconds (optional surrounding whitespace).
fn kit_reference(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Duration::from_millis)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, value)) = data.split_first() else {
        return;
    };
    let grpc = which & 1 == 1;
    if let Ok(text) = std::str::from_utf8(value) {
        assert_eq!(parse_grpc_timeout(text), grpc_reference(value), "{text:?}");
    }
    let Some(read) = timeout_header(value, grpc) else {
        return;
    };
    // Header values are visible ASCII (RFC 9110); `to_str` refuses the rest.
    let visible = std::str::from_utf8(value)
        .is_ok_and(|s| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)));
    let expected = if !visible {
        None
    } else if grpc {
        grpc_reference(value)
    } else {
        kit_reference(value)
    };
    match read {
        Ok(ours) => assert_eq!(ours, expected, "{value:?}"),
        Err(e) => {
            assert_eq!(expected, None, "{value:?}: {e}");
            assert_eq!(e.code(), kit::Code::InvalidArgument, "{e}");
        }
    }
});
