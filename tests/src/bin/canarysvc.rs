//! A service for `kit top`, `compare` and `gate`: its failures and latency
//! come from the environment, so a test can start a good and a bad
//! version of it. `CANARY_FAIL_EVERY=N` fails every Nth call of `work`
//! with UNAVAILABLE (0: never), `CANARY_DELAY_MS` delays every call of
//! `work`. Flags and `KIT_*` variables configure the server as for any kit
//! binary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Does some work, sometimes badly.
pub struct Canary {
    fail_every: u64,
    delay: Duration,
    calls: AtomicU64,
}

/// A service whose failure rate and latency are set at start.
#[kit::service(name = "canary", package = "kit.canary.v1")]
impl Canary {
    /// Answers `n + 1`, after `CANARY_DELAY_MS`; every `CANARY_FAIL_EVERY`th call fails.
    #[endpoint(http = "POST /work", grpc)]
    pub async fn work(&self, n: u32) -> Result<u32, kit::Error> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.fail_every > 0 && call.is_multiple_of(self.fail_every) {
            return Err(kit::Error::unavailable(format!(
                "call {call} fails on purpose"
            )));
        }
        Ok(n + 1)
    }

    /// Answers at once.
    #[endpoint(http = "GET /ping", grpc)]
    pub async fn ping(&self) -> String {
        "pong".to_string()
    }
}

fn env_u64(name: &str) -> Result<u64, kit::Error> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| kit::Error::invalid_argument(format!("{name}={v}: not a number"))),
        Err(_) => Ok(0),
    }
}

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    let canary = Canary {
        fail_every: env_u64("CANARY_FAIL_EVERY")?,
        delay: Duration::from_millis(env_u64("CANARY_DELAY_MS")?),
        calls: AtomicU64::new(0),
    };
    kit::serve(canary).await
}
