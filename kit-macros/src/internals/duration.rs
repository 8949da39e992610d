//! Durations in annotations: `timeout = "2s"`.

use std::time::Duration;

/// Parses a humantime-style duration (`"250ms"`, `"2s"`, `"1m 30s"`) that
/// must be greater than zero.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_positive(text, "timeout")
}

/// The same, for annotation key `key` (named in the error).
pub(crate) fn parse_positive(text: &str, key: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration `{text}`: {e}; write e.g. \"500ms\", \"2s\" or \"1m\"")
    })?;
    if d.is_zero() {
        return Err(format!("{key} must be greater than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_units() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_timeout("1m 30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn rejects_zero_and_nonsense() {
        assert!(parse_timeout("0s")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_timeout("2").unwrap_err().contains("invalid duration"));
        assert!(parse_timeout("soon")
            .unwrap_err()
            .contains("invalid duration"));
        assert!(parse_timeout("").is_err());
    }
}
