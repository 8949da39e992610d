//! `Limited`: a service with a rate-limited endpoint, a concurrency-limited
//! one and one that counts every time its handler starts, for the server
//! protection tests (rate limits, concurrency nacks, expired deadlines).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Limited {
    /// Handler runs of `touch`, counted as the handler starts.
    pub touched: AtomicU64,
    /// Handler runs of `hold`, counted as the handler starts.
    pub held: AtomicU64,
}

impl Limited {
    pub fn touched(&self) -> u64 {
        self.touched.load(Ordering::SeqCst)
    }

    pub fn held(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }
}

#[kit::service(name = "limited", package = "kit.limited.v1")]
impl Limited {
    /// Answers `n + 1`; at most 5 a second, bursts of 5.
    #[endpoint(http = "POST /ping", grpc, rate = "5/s", burst = 5)]
    pub async fn ping(&self, n: u64) -> u64 {
        n + 1
    }

    /// Holds for `millis`; at most 2 at once.
    #[endpoint(http = "POST /hold", grpc, concurrency = 2)]
    pub async fn hold(&self, millis: u64) -> u64 {
        self.held.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }

    /// Counts its run, then sleeps `millis`; no limits of its own.
    #[endpoint(http = "POST /touch", grpc)]
    pub async fn touch(&self, millis: u64) -> u64 {
        self.touched.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        millis
    }
}
