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
use kit::server::StackConfig;
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

type Stack = tower::util::BoxCloneService<
    http::Request<Body>,
    http::Response<Body>,
    std::convert::Infallible,
>;

/// Nanoseconds and allocations per call of `router`.
async fn measure(name: &str, router: Stack, iterations: u64) -> (f64, f64) {
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
    (ns, per)
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

/// The example service as `kit::Server` serves it (content-type dispatch,
/// `/health`, `/metrics` beside), with kit's layers as `configure` leaves
/// them.
fn kit_server(configure: impl FnOnce(&mut StackConfig)) -> Stack {
    let mut stack = StackConfig::default();
    configure(&mut stack);
    Stack::new(
        kit::Server::default()
            .stack_config(stack)
            .add_service(stringsvc::StringService)
            .into_service()
            .expect("service"),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut iterations = 100_000u64;
    let mut rounds = 5usize;
    let mut only: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(iterations)
            }
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            "--only" => only = args.next(),
            _ => {}
        }
    }
    // The hand-written router installs the global Prometheus recorder; kit's
    // then records into the same one, as it would in a real process.
    let instrumented = kit_bench::contenders::axum_instrumented();
    let none = |c: &mut StackConfig| {
        c.trace = false;
        c.metrics = false;
        c.deadline = false;
        c.catch_panic = false;
    };
    let layered = Stack::new(
        kit::Server::default()
            .layer(tower::layer::util::Identity::new())
            .add_service(stringsvc::StringService)
            .into_service()
            .expect("service"),
    );
    // Ablation: the same server with one of kit's layers off, then all of
    // them (what is left: dispatch, routing, the request context, the
    // handler), and with one pass-through user layer (the price of boxing
    // for user layers).
    let stacks: Vec<(&str, Stack)> = vec![
        ("kit (full server stack)", kit_server(|_| {})),
        ("kit without trace span", kit_server(|c| c.trace = false)),
        ("kit without metrics", kit_server(|c| c.metrics = false)),
        ("kit without deadline", kit_server(|c| c.deadline = false)),
        (
            "kit without panic catching",
            kit_server(|c| c.catch_panic = false),
        ),
        ("kit without all four", kit_server(none)),
        ("kit + one pass-through user layer", layered),
        ("axum-instrumented", Stack::new(instrumented)),
        ("axum-bare", Stack::new(kit_bench::contenders::axum_bare())),
    ];
    let stacks: Vec<_> = stacks
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| name.starts_with(o)))
        .collect();
    // Alternating rounds, medians: one slow moment does not tilt one stack.
    let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::new(); stacks.len()];
    for round in 0..rounds {
        for k in 0..stacks.len() {
            let i = (k + round) % stacks.len();
            let (name, router) = &stacks[i];
            samples[i].push(measure(name, router.clone(), iterations).await);
        }
    }
    for ((name, _), s) in stacks.iter().zip(samples) {
        let ns = median(s.iter().map(|x| x.0).collect());
        let allocs = median(s.iter().map(|x| x.1).collect());
        println!(
            "{}",
            serde_json::json!({"name": name, "ns_per_call": ns, "allocs_per_call": allocs})
        );
    }
    if only.is_none() {
        client_codecs(iterations);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
