//! Rates (`"100/s"`) and the token bucket that enforces them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate with a burst: `count` requests per `per`, and up to `burst`
/// at once after a quiet spell. Written `"100/s"`, `"20/m"`, `"5000/h"`
/// in annotations; `burst` defaults to one period's worth.
///
/// ```
/// use std::time::Duration;
/// use kit_runtime::limit::Rate;
/// let rate: Rate = "100/s".parse().unwrap();
/// assert_eq!(rate, Rate::new(100, Duration::from_secs(1)));
/// assert_eq!(rate.burst_size(), 100);
/// assert_eq!(Rate::per_second(10).burst(1).burst_size(), 1);
/// assert!("100/fortnight".parse::<Rate>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    per: Duration,
    burst: u32,
}

impl Rate {
    /// `count` per `per` (both above zero; zero counts as one), burst `count`.
    pub const fn new(count: u32, per: Duration) -> Rate {
        let count = if count == 0 { 1 } else { count };
        Rate {
            count,
            per,
            burst: count,
        }
    }

    /// `count` per second.
    pub const fn per_second(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(1))
    }

    /// The same rate with up to `burst` requests at once (at least one).
    pub const fn burst(mut self, burst: u32) -> Rate {
        self.burst = if burst == 0 { 1 } else { burst };
        self
    }

    /// Requests per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.per
    }

    /// The burst.
    pub fn burst_size(&self) -> u32 {
        self.burst
    }

    fn per_second_f64(&self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            3600 => "h",
            _ => return write!(f, "{}/{:?} burst {}", self.count, self.per, self.burst),
        };
        write!(f, "{}/{unit}", self.count)?;
        if self.burst != self.count {
            write!(f, " burst {}", self.burst)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || {
            format!(
                "invalid rate `{text}`: write COUNT/UNIT with a unit of s, m or h, e.g. \"100/s\""
            )
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!(
                "invalid rate `{text}`: the count must be above zero"
            ));
        }
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Rate::new(count, per))
    }
}

/// A token bucket: [`Rate::count`] tokens per period, holding at most
/// [`Rate::burst_size`].
#[derive(Debug)]
pub(crate) struct TokenBucket {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub(crate) fn new(rate: Rate) -> TokenBucket {
        let burst = f64::from(rate.burst);
        TokenBucket {
            per_second: rate.per_second_f64(),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub(crate) fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let Ok(mut state) = self.state.lock() else {
            return Ok(());
        };
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }

    /// Takes a token even if there is none yet, and says how long until
    /// it is there (zero when it was).
    pub(crate) fn reserve(&self, now: Instant) -> Duration {
        let Ok(mut state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now.max(*last);
        *tokens -= 1.0;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.per_second)
        }
    }

    /// Returns a token [`TokenBucket::reserve`] took.
    pub(crate) fn give_back(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = (state.0 + 1.0).min(self.burst);
        }
    }

    /// When the bucket was last used.
    pub(crate) fn last_used(&self) -> Option<Instant> {
        self.state.lock().ok().map(|s| s.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let bucket = TokenBucket::new(Rate::per_second(10).burst(3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(bucket.try_take(t0).is_ok());
        }
        let wait = bucket.try_take(t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(bucket.try_take(t0 + Duration::from_millis(100)).is_ok());
        assert!(bucket.try_take(t0 + Duration::from_millis(100)).is_err());
        // A long quiet spell refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.try_take(later).is_ok());
        }
        assert!(bucket.try_take(later).is_err());
    }

    #[test]
    fn rates_parse_and_print() {
        assert_eq!("20/m".parse::<Rate>().unwrap().to_string(), "20/m");
        assert_eq!(Rate::per_second(5).burst(9).to_string(), "5/s burst 9");
        for bad in ["", "10", "0/s", "-1/s", "x/s", "10/d"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }
}
