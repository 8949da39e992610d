//! Limits in annotations: `concurrency = N`, `rate = "100/s"`, `burst = N`.

use darling::util::SpannedValue;

use super::attr::EndpointKeys;
use super::Ctxt;

/// A count that must be above zero.
pub(crate) fn positive(cx: &mut Ctxt, value: Option<&SpannedValue<u32>>, key: &str) -> Option<u32> {
    let value = value?;
    if **value == 0 {
        cx.error_span(
            value.span(),
            format!("`{key}` must be at least 1 (leave it out for the server's default)"),
        );
        return None;
    }
    Some(**value)
}

/// `rate = "COUNT/UNIT"` and `burst = N` (the endpoint's, else the
/// service's): count, period in nanoseconds, burst.
pub(crate) fn rate(
    cx: &mut Ctxt,
    keys: &EndpointKeys,
    defaults: &EndpointKeys,
) -> Option<(u32, u64, u32)> {
    let (lit, burst) = match (&keys.rate, &defaults.rate) {
        (Some(lit), _) => (lit, keys.burst.as_ref()),
        (None, Some(lit)) => (lit, keys.burst.as_ref().or(defaults.burst.as_ref())),
        (None, None) => {
            if let Some(burst) = keys.burst.as_ref() {
                cx.error_span(
                    burst.span(),
                    "`burst` needs a `rate`, e.g. `rate = \"100/s\"`",
                );
            }
            return None;
        }
    };
    let (count, nanos) = match parse_rate(&lit.value()) {
        Ok(rate) => rate,
        Err(e) => {
            cx.error_span(lit.span(), e);
            return None;
        }
    };
    let burst = match burst {
        Some(b) => positive(cx, Some(b), "burst")?,
        None => count,
    };
    Some((count, nanos, burst))
}

/// `"100/s"`, `"20/m"`, `"5000/h"`.
fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    let bad = || {
        format!("invalid rate `{text}`: write COUNT/UNIT with a unit of s, m or h, e.g. \"100/s\"")
    };
    let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    if count == 0 {
        return Err(format!(
            "invalid rate `{text}`: the count must be at least 1"
        ));
    }
    let secs: u64 = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(bad()),
    };
    Ok((count, secs * 1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100/s"), Ok((100, 1_000_000_000)));
        assert_eq!(parse_rate(" 20 / m "), Ok((20, 60_000_000_000)));
        for bad in ["", "100", "0/s", "x/s", "10/d", "1.5/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
