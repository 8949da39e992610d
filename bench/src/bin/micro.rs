//! The server and client stacks in process, without sockets: nanoseconds
//! and heap allocations per `POST /uppercase`, kit's full server stack
//! against the hand-written instrumented axum router and bare axum; and the
//! client-side encoding and decoding of one call (JSON and protobuf), kit's
//! against serde_json and prost by hand. A regression in one layer shows.
//! Prints one JSON line per stack.

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

/// Times a synchronous piece of work.
fn measure_sync(name: &str, iterations: u64, mut work: impl FnMut() -> bool) {
    for _ in 0..100 {
        assert!(work(), "{name} answered wrong");
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(work());
    }
    let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
    let per = (ALLOCS.load(Ordering::Relaxed) - allocs) as f64 / iterations as f64;
    println!(
        "{}",
        serde_json::json!({"name": name, "ns_per_call": ns, "allocs_per_call": per})
    );
}

fn client_codecs(iterations: u64) {
    use kit::__private::{wire, JsonObject};
    use kit_bench::pb;
    let input = "hello world".to_string();
    // What kit's generated client does per call: the body fields through
    // the codec, the answer decoded with it.
    measure_sync("client JSON encode+decode (kit)", iterations, || {
        let body = JsonObject::new()
            .field("s", wire::<String>(), &input)
            .map(|b| b.finish());
        let answer: Result<String, _> = wire::<String>().decode(br#""HELLO WORLD""#);
        body.is_ok() && answer.is_ok_and(|a| a == "HELLO WORLD")
    });
    measure_sync(
        "client JSON encode+decode (serde by hand)",
        iterations,
        || {
            #[derive(serde::Serialize)]
            struct Req<'a> {
                s: &'a String,
            }
            let body = serde_json::to_vec(&Req { s: &input });
            let answer: Result<String, _> = serde_json::from_slice(br#""HELLO WORLD""#);
            body.is_ok() && answer.is_ok_and(|a| a == "HELLO WORLD")
        },
    );
    let response = prost::Message::encode_to_vec(&pb::UppercaseResponse {
        value: "HELLO WORLD".into(),
    });
    measure_sync("client protobuf encode+decode (kit)", iterations, || {
        let req = <stringsvc::StringService as kit::Endpoints>::DESCRIPTOR;
        let _ = req;
        let body = kit::proto::encode_to_vec(&KitReq { s: input.clone() });
        let answer: Result<KitResp, _> = kit::proto::decode(response.as_slice());
        !body.is_empty() && answer.is_ok_and(|a| a.value == "HELLO WORLD")
    });
    measure_sync("client protobuf encode+decode (prost)", iterations, || {
        let body = prost::Message::encode_to_vec(&pb::UppercaseRequest { s: input.clone() });
        let answer = <pb::UppercaseResponse as prost::Message>::decode(response.as_slice());
        !body.is_empty() && answer.is_ok_and(|a| a.value == "HELLO WORLD")
    });
}

/// The messages kit synthesizes for `uppercase`, written as a user would.
#[derive(kit::Message)]
struct KitReq {
    s: String,
}

#[derive(kit::Message)]
struct KitResp {
    value: String,
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
    client_codecs(iterations);
}
