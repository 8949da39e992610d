//! Deadlines across hops: the headers that carry the caller's remaining
//! time, and the rule that the server's deadline is the smaller of it and
//! the endpoint's own timeout (enforced by the server's deadline layer).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::Error;

/// Header with the caller's remaining time in whole milliseconds, on HTTP.
/// (gRPC uses its standard `grpc-timeout` header, see [`parse_grpc_timeout`].)
pub(crate) static TIMEOUT_HEADER: HeaderName = HeaderName::from_static("kit-timeout-ms");

/// gRPC's `grpc-timeout`.
pub(crate) static GRPC_TIMEOUT_HEADER: HeaderName = HeaderName::from_static("grpc-timeout");

/// Reads [`TIMEOUT_HEADER`]: `None` when absent, INVALID_ARGUMENT when
/// not a whole number of milliseconds.
pub(crate) fn timeout_from_headers(headers: &HeaderMap) -> Result<Option<Duration>, Error> {
    let Some(value) = headers.get(&TIMEOUT_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Some(Duration::from_millis(ms)))
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "malformed {TIMEOUT_HEADER} {value:?}: write the caller's remaining time in whole milliseconds"
            ))
        })
}

/// Encodes a remaining time for [`TIMEOUT_HEADER`], rounding down so the
/// callee never believes it has more time than the caller.
pub(crate) fn timeout_header_value(remaining: Duration) -> HeaderValue {
    let millis = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
    HeaderValue::from(millis)
}

/// Parses a gRPC `grpc-timeout` value: up to 8 digits and a unit of
/// `H`, `M`, `S`, `m`, `u` or `n`.
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    // Bytes, not chars: a multi-byte last character is no unit (splitting
    // the string before it would panic).
    let (&unit, digits) = value.as_bytes().split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
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

/// The deadline a server uses: the earlier of `now + own` (the endpoint's
/// `timeout`) and `now + caller` (what the caller has left); the clock is
/// read only when there is a deadline.
pub(crate) fn effective_deadline(
    now: impl FnOnce() -> Instant,
    own: Option<Duration>,
    caller: Option<Duration>,
) -> Option<Instant> {
    match (own, caller) {
        (Some(a), Some(b)) => Some(now() + a.min(b)),
        (Some(d), None) | (None, Some(d)) => Some(now() + d),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_round_trips() {
        for (text, d) in [
            ("1S", Duration::from_secs(1)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("3n", Duration::from_nanos(3)),
            ("2M", Duration::from_secs(120)),
            ("1H", Duration::from_secs(3600)),
        ] {
            assert_eq!(parse_grpc_timeout(text), Some(d), "{text}");
        }
        // "\u{610}" and "1\u{e9}" were found by fuzzing (fuzz/: deadline):
        // a multi-byte last character panicked.
        for bad in [
            "",
            "S",
            "123456789S",
            "1s",
            "-1S",
            "1.5S",
            "\u{610}",
            "1\u{e9}",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_is_whole_millis_rounded_down() {
        let v = timeout_header_value(Duration::from_micros(1999));
        assert_eq!(v, "1");
        let mut h = HeaderMap::new();
        h.insert(TIMEOUT_HEADER.clone(), v);
        assert_eq!(
            timeout_from_headers(&h).unwrap(),
            Some(Duration::from_millis(1))
        );
        h.insert(TIMEOUT_HEADER.clone(), HeaderValue::from_static("soon"));
        assert!(timeout_from_headers(&h).is_err());
        assert_eq!(timeout_from_headers(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn effective_deadline_is_the_smaller() {
        let now = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(
            effective_deadline(|| now, Some(s(2)), Some(s(1))),
            Some(now + s(1))
        );
        assert_eq!(
            effective_deadline(|| now, Some(s(2)), Some(s(5))),
            Some(now + s(2))
        );
        assert_eq!(
            effective_deadline(|| now, None, Some(s(5))),
            Some(now + s(5))
        );
        assert_eq!(effective_deadline(|| now, None, None), None);
    }
}
