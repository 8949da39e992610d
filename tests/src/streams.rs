//! A service with every kind of streaming endpoint, and counters that let
//! tests see what its producers did: how many items they made, whether
//! they are still alive.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kit::{Context, Stream, Streaming};

/// What the producers did, shared with tests.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Items made by `flood`.
    pub produced: Arc<AtomicU64>,
    /// Producers alive now (a guard in each stream).
    pub live: Arc<AtomicUsize>,
}

/// Decrements `live` when the stream holding it is dropped.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(live: &Arc<AtomicUsize>) -> Alive {
        live.fetch_add(1, Ordering::SeqCst);
        Alive(live.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A point, to stream a message type.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, kit::Message)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

/// Streams numbers, points and strings every way kit streams.
#[derive(Clone, Debug, Default)]
pub struct StreamService {
    pub counters: Counters,
}

#[kit::service(name = "streams", package = "streams.v1")]
impl StreamService {
    /// The numbers 0..n, one every `every_ms` milliseconds (none: at once).
    #[endpoint(http = "GET /count/{n}", grpc, timeout = "30s")]
    pub async fn count_to(
        &self,
        n: u32,
        every_ms: Option<u64>,
    ) -> impl Stream<Item = Result<u32, kit::Error>> {
        let alive = Alive::new(&self.counters.live);
        futures_util::stream::unfold((0u32, alive), move |(i, alive)| async move {
            if i >= n {
                return None;
            }
            if let Some(ms) = every_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Some((Ok(i), (i + 1, alive)))
        })
    }

    /// `after` numbers, then NOT_FOUND.
    #[endpoint(http = "GET /fail/{after}", grpc)]
    pub async fn fail_after(&self, after: u32) -> Streaming<u32> {
        let items = (0..after)
            .map(Ok)
            .chain(std::iter::once(Err(kit::Error::not_found(format!(
                "nothing after {after}"
            )))));
        Streaming::new(futures_util::stream::iter(items.collect::<Vec<_>>()))
    }

    /// Strings of `size` bytes, without end; counts what it made.
    #[endpoint(http = "GET /flood", grpc)]
    pub async fn flood(&self, size: u32) -> impl Stream<Item = String> {
        let alive = Alive::new(&self.counters.live);
        let produced = self.counters.produced.clone();
        let item = "x".repeat(size as usize);
        futures_util::stream::repeat_with(move || {
            let _ = &alive;
            produced.fetch_add(1, Ordering::SeqCst);
            item.clone()
        })
    }

    /// A tick every 50 ms without end; the 300 ms timeout ends it.
    #[endpoint(http = "GET /ticks", grpc, timeout = "300ms")]
    pub async fn ticks(&self) -> impl Stream<Item = Result<u64, kit::Error>> {
        let alive = Alive::new(&self.counters.live);
        futures_util::stream::unfold((0u64, alive), |(i, alive)| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok(i), (i + 1, alive)))
        })
    }

    /// The trace id the handler was given, then the one the stream sees
    /// while it is polled.
    #[endpoint(http = "GET /trace", grpc)]
    pub async fn trace_ids(&self, ctx: &Context) -> impl Stream<Item = Result<String, kit::Error>> {
        let given = ctx.trace_id().to_string();
        futures_util::stream::iter([0, 1]).map(move |i| {
            Ok(if i == 0 {
                given.clone()
            } else {
                Context::current().trace_id().to_string()
            })
        })
    }

    /// `n` points on the diagonal.
    #[endpoint(http = "POST /points", grpc)]
    pub async fn points(&self, n: u32) -> impl Stream<Item = Point> {
        let n = i64::from(n);
        futures_util::stream::iter((0..n).map(|i| Point { x: i, y: -i }))
    }

    /// The sum of the numbers sent (client streaming).
    #[endpoint(grpc)]
    pub async fn sum(&self, nums: Streaming<u64>) -> Result<u64, kit::Error> {
        let mut nums = nums;
        let mut total = 0u64;
        while let Some(n) = nums.message().await? {
            total = total.saturating_add(n);
        }
        Ok(total)
    }

    /// Each word sent, uppercased, as it arrives (bidirectional).
    #[endpoint(grpc)]
    pub async fn shout(
        &self,
        words: Streaming<String>,
    ) -> impl Stream<Item = Result<String, kit::Error>> {
        words.map_ok(|w| w.to_uppercase())
    }
}

use futures_util::StreamExt as _;
