//! `Probe`: one endpoint per behaviour the tests exercise, and `Front`,
//! which calls `Probe` through its generated client to test propagation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kit::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Item {
    pub id: u32,
    pub name: String,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct ContextView {
    pub trace_id: String,
    pub parent_span: Option<String>,
    pub remaining_ms: Option<u64>,
}

impl ContextView {
    pub fn of(ctx: &Context) -> ContextView {
        ContextView {
            trace_id: ctx.trace_id().to_string(),
            parent_span: ctx.trace().parent_span_id().map(|s| format!("{s:016x}")),
            remaining_ms: ctx.remaining().map(|d| d.as_millis() as u64),
        }
    }
}

/// A user error type with its own conversion into `kit::Error`.
#[derive(Debug)]
pub enum ProbeError {
    Missing(String),
    Locked,
}

impl From<ProbeError> for kit::Error {
    fn from(e: ProbeError) -> kit::Error {
        match e {
            ProbeError::Missing(k) => kit::Error::not_found(format!("no key {k}")),
            ProbeError::Locked => kit::Error::failed_precondition("locked"),
        }
    }
}

/// Sets a flag when dropped: tells whether a handler future was cancelled.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Default)]
pub struct Probe {
    attempts: Mutex<HashMap<String, u32>>,
    pub slow_dropped: Arc<AtomicBool>,
    pub slow_finished: Arc<AtomicBool>,
    pub completed_sleeps: AtomicU64,
}

impl Probe {
    fn attempt(&self, key: &str) -> u32 {
        let mut map = self.attempts.lock().unwrap();
        let n = map.entry(key.to_string()).or_default();
        *n += 1;
        *n
    }

    /// How many times `key` was attempted on the flaky endpoints.
    pub fn attempts(&self, key: &str) -> u32 {
        self.attempts.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

#[kit::service(name = "probe", package = "kit.probe.v1")]
impl Probe {
    /// Reads an item.
    #[endpoint(http = "GET /items/{id}", grpc)]
    pub async fn get_item(&self, id: u32, verbose: Option<bool>) -> Item {
        Item {
            id,
            name: if verbose == Some(true) {
                format!("item number {id}")
            } else {
                format!("item{id}")
            },
            tags: vec![],
        }
    }

    /// Replaces an item with the whole body.
    #[endpoint(http = "PUT /items/{id}", grpc)]
    pub async fn put_item(&self, id: u32, #[body] item: Item) -> Result<Item, kit::Error> {
        if item.id != id {
            return Err(kit::Error::invalid_argument("id in path and body differ"));
        }
        Ok(item)
    }

    /// Renames an item: `name` and `tags` are fields of the JSON body.
    #[endpoint(http = "PATCH /items/{id}", grpc)]
    pub async fn rename(&self, id: u32, name: String, tags: Vec<String>) -> Item {
        Item { id, name, tags }
    }

    /// Deletes an item; answers null.
    #[endpoint(http = "DELETE /items/{id}", idempotent, grpc)]
    pub async fn delete_item(&self, id: u32) -> Result<(), ProbeError> {
        if id == 0 {
            return Err(ProbeError::Locked);
        }
        Ok(())
    }

    /// Query-string arguments.
    #[endpoint(http = "GET /search", grpc)]
    pub async fn search(&self, q: String, limit: Option<u32>) -> Vec<String> {
        (0..limit.unwrap_or(2))
            .map(|i| format!("{q}-{i}"))
            .collect()
    }

    /// Fails with the given code, message and one detail.
    #[endpoint(http = "POST /fail", grpc)]
    pub async fn fail(&self, code: i32, message: String) -> Result<(), kit::Error> {
        Err(kit::Error::new(Code::from_i32(code), message)
            .with_detail(serde_json::json!({"code": code})))
    }

    /// A user error type converted with `From`.
    #[endpoint(http = "POST /lookup", grpc)]
    pub async fn lookup(&self, key: String) -> Result<String, ProbeError> {
        Err(ProbeError::Missing(key))
    }

    /// Panics.
    #[endpoint(http = "POST /panic", grpc)]
    pub async fn panic(&self) -> u32 {
        panic!("probe panicked on purpose")
    }

    /// Sleeps `millis` under a 200 ms timeout; records whether it was cut short.
    #[endpoint(http = "POST /slow", timeout = "200ms", grpc)]
    pub async fn slow(&self, millis: u64) -> u64 {
        let flag = DropFlag(self.slow_dropped.clone());
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.slow_finished.store(true, Ordering::SeqCst);
        std::mem::forget(flag);
        millis
    }

    /// Sleeps `millis` with no timeout of its own.
    #[endpoint(http = "POST /sleep", grpc)]
    pub async fn sleep(&self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.completed_sleeps.fetch_add(1, Ordering::SeqCst);
        millis
    }

    /// Fails with UNAVAILABLE until it has been called `failures` times for `key`; retried.
    #[endpoint(http = "POST /flaky", retry = 3, idempotent, grpc)]
    pub async fn flaky(&self, key: String, failures: u32) -> Result<u32, kit::Error> {
        let n = self.attempt(&key);
        if n <= failures {
            return Err(kit::Error::unavailable(format!("attempt {n} fails")));
        }
        Ok(n)
    }

    /// Like `flaky`, but not idempotent: the client must not retry it.
    #[endpoint(http = "POST /flaky-unsafe", retry = 3, grpc)]
    pub async fn flaky_unsafe(&self, key: String, failures: u32) -> Result<u32, kit::Error> {
        let n = self.attempt(&key);
        if n <= failures {
            return Err(kit::Error::unavailable(format!("attempt {n} fails")));
        }
        Ok(n)
    }

    /// Always UNAVAILABLE, many retries allowed, 300 ms timeout.
    #[endpoint(http = "POST /down", retry = 50, idempotent, timeout = "300ms", grpc)]
    pub async fn down(&self, key: String) -> Result<u32, kit::Error> {
        let n = self.attempt(&key);
        Err(kit::Error::unavailable(format!("attempt {n}: still down")))
    }

    /// What the server knows of the request context.
    #[endpoint(http = "GET /context", grpc = "WhoAmI")]
    pub async fn context(&self, ctx: &Context) -> ContextView {
        ContextView::of(ctx)
    }

    /// Echoes any JSON body.
    #[endpoint(http = "POST /echo")]
    pub async fn echo(&self, #[body] value: serde_json::Value) -> serde_json::Value {
        value
    }
}

/// What `Front` saw and what `Probe` saw, one hop later.
#[derive(Clone, Debug, Serialize, Deserialize, kit::Message)]
pub struct Chain {
    pub front: ContextView,
    pub back: ContextView,
}

/// A service that calls `Probe` through the generated client.
pub struct Front {
    pub probe: ProbeClient,
}

#[kit::service(name = "front", package = "kit.front.v1")]
impl Front {
    /// Calls `probe.context` and reports both contexts.
    #[endpoint(http = "GET /chain", timeout = "1500ms", grpc)]
    pub async fn chain(&self, ctx: &Context) -> Result<Chain, kit::Error> {
        let front = ContextView::of(ctx);
        let back = self.probe.context().await?;
        Ok(Chain { front, back })
    }
}
