//! The server stacks in process, without sockets: nanoseconds and heap
//! allocations per `POST /uppercase`, kit's full stack against the
//! hand-written instrumented axum router and bare axum, so a regression in
//! one layer shows. Prints one JSON line per stack.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn request() -> http::Request<Body> {
    http::Request::post("/uppercase")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"s":"hello world"}"#))
        .expect("request")
}

async fn measure(name: &str, router: axum::Router, iterations: u64) {
    // Warm up (lazily created metric handles, first allocations).
    for _ in 0..100 {
        let resp = router.clone().oneshot(request()).await.expect("infallible");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], br#""HELLO WORLD""#, "{name} answered wrong");
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..iterations {
        let resp = router.clone().oneshot(request()).await.expect("infallible");
        let _ = resp.into_body().collect().await.expect("body");
    }
    let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
    let per = (ALLOCS.load(Ordering::Relaxed) - allocs) as f64 / iterations as f64;
    println!(
        "{}",
        serde_json::json!({"name": name, "ns_per_call": ns, "allocs_per_call": per})
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut iterations = 100_000u64;
    while let Some(a) = args.next() {
        if a == "--iterations" {
            iterations = args
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(iterations);
        }
    }
    // The hand-written router installs the global Prometheus recorder; kit's
    // then records into the same one, as it would in a real process.
    let instrumented = kit_bench::contenders::axum_instrumented();
    let kit_router = kit::router(stringsvc::StringService);
    measure("kit (full server stack)", kit_router, iterations).await;
    measure("axum-instrumented", instrumented, iterations).await;
    measure("axum-bare", kit_bench::contenders::axum_bare(), iterations).await;
}
