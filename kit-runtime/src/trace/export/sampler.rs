//! Which traces are recorded: the OpenTelemetry samplers named by
//! `OTEL_TRACES_SAMPLER`, decided once per trace where it starts and then
//! carried in the `traceparent` sampled flag.

use std::fmt;
use std::str::FromStr;

/// A sampler, as `OTEL_TRACES_SAMPLER` names it (`OTEL_TRACES_SAMPLER_ARG`
/// gives the ratio of the ratio samplers).
///
/// ```
/// use kit_runtime::trace::Sampler;
/// let s: Sampler = "parentbased_traceidratio".parse().unwrap();
/// assert_eq!(s.with_ratio(0.25), Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))));
/// assert!("sometimes".parse::<Sampler>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// A fixed share of traces, decided by the trace id (so every service
    /// of a trace decides alike).
    TraceIdRatio(f64),
    /// The caller's decision when there is one (the `traceparent` flag),
    /// the inner sampler's for new traces. The default, over `AlwaysOn`.
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

impl Sampler {
    /// The same sampler with its ratio set to `ratio` (clamped to 0..=1);
    /// samplers without a ratio are unchanged.
    pub fn with_ratio(self, ratio: f64) -> Sampler {
        match self {
            Sampler::TraceIdRatio(_) => Sampler::TraceIdRatio(ratio.clamp(0.0, 1.0)),
            Sampler::ParentBased(root) => Sampler::ParentBased(Box::new(root.with_ratio(ratio))),
            other => other,
        }
    }

    /// Whether to record trace `trace_id`; `parent` is the caller's sampled
    /// flag when the trace came with a `traceparent`.
    pub fn sample(&self, trace_id: u128, parent: Option<bool>) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            // The lower 64 bits of the id are random in W3C ids, as in
            // OpenTelemetry's TraceIdRatioBased.
            Sampler::TraceIdRatio(ratio) => {
                if *ratio >= 1.0 {
                    return true;
                }
                let bound = (*ratio * (u64::MAX as f64)) as u64;
                (trace_id as u64) < bound
            }
            Sampler::ParentBased(root) => match parent {
                Some(sampled) => sampled,
                None => root.sample(trace_id, None),
            },
        }
    }
}

impl FromStr for Sampler {
    type Err = String;
    fn from_str(s: &str) -> Result<Sampler, String> {
        let parent = |inner| Sampler::ParentBased(Box::new(inner));
        Ok(match s.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(1.0),
            "parentbased_always_on" => parent(Sampler::AlwaysOn),
            "parentbased_always_off" => parent(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent(Sampler::TraceIdRatio(1.0)),
            other => {
                return Err(format!(
                    "unknown sampler `{other}` (expected always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off or parentbased_traceidratio)"
                ))
            }
        })
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::AlwaysOn => f.write_str("always_on"),
            Sampler::AlwaysOff => f.write_str("always_off"),
            Sampler::TraceIdRatio(r) => write!(f, "traceidratio({r})"),
            Sampler::ParentBased(root) => write!(f, "parentbased_{root}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_samples_about_its_share_and_agrees_across_services() {
        let s = Sampler::TraceIdRatio(0.1);
        let ids: Vec<u128> = (0..20_000).map(|_| fastrand::u128(..)).collect();
        let kept = ids.iter().filter(|id| s.sample(**id, None)).count();
        assert!((1_600..2_400).contains(&kept), "{kept}");
        // The same id, the same decision.
        for id in &ids[..100] {
            assert_eq!(s.sample(*id, None), s.sample(*id, None));
        }
        assert!(!Sampler::TraceIdRatio(0.0).sample(1, None));
        assert!(Sampler::TraceIdRatio(1.0).sample(u128::MAX, None));
    }

    #[test]
    fn parent_based_follows_the_caller() {
        let s: Sampler = "parentbased_traceidratio"
            .parse::<Sampler>()
            .unwrap()
            .with_ratio(0.0);
        assert!(s.sample(7, Some(true)));
        assert!(!s.sample(7, Some(false)));
        assert!(!s.sample(7, None));
        assert!(Sampler::default().sample(7, None));
    }
}
