//! Load balancing over a service's instances, with failure accrual.
//!
//! Every attempt of a call picks an instance: by default power of two
//! choices over peak-EWMA latency times outstanding requests ([`P2c`],
//! Finagle's and linkerd's default), or [`RoundRobin`]. An attempt that is
//! a retry avoids the instances that already failed it. An instance that
//! fails [`Accrual::failures`] times in a row is ejected for a jittered
//! 5 s to 300 s, then probed with one request. A client-wide [`Breaker`]
//! can also fail a whole dependency fast.

mod accrual;
mod breaker;
mod ewma;
mod table;

pub use accrual::Accrual;
pub use breaker::Breaker;
pub(crate) use breaker::{Circuit, Trip};
pub use table::InstanceStats;
pub(crate) use table::{Avoid, BalanceService, Balancer, Connect, NoInstance};

/// How a client picks an instance for each attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Power of two choices over peak-EWMA latency and load.
    #[default]
    P2cPeakEwma,
    /// Each instance in turn.
    RoundRobin,
}

/// Power of two random choices, the less loaded wins.
#[derive(Clone, Copy, Debug)]
pub struct P2c;

impl P2c {
    /// Load = peak-EWMA latency x (outstanding requests + 1): Finagle's and
    /// linkerd's default, and kit's.
    pub fn peak_ewma() -> Policy {
        Policy::P2cPeakEwma
    }
}

/// Each instance in turn.
#[derive(Clone, Copy, Debug)]
pub struct RoundRobin;

impl From<RoundRobin> for Policy {
    fn from(_: RoundRobin) -> Policy {
        Policy::RoundRobin
    }
}
