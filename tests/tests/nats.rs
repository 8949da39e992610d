//! The NATS transport against a real nats-server (Debian's) the tests
//! start: the generated client over every argument shape, errors with
//! their `Kit-Code` header, deadlines from the client and the server, a
//! queue group sharing calls between two stringsvc processes, metrics
//! labelled `transport="nats"`, draining on SIGTERM, and a Python client
//! (nats-py) that knows only the documented subject and payload.

use std::process::Command;
use std::time::{Duration, Instant};

use kit::{Code, Transport};
use kit_tests::attack::{addr_of, metric, metrics};
use kit_tests::fleet::Process;
use kit_tests::nats::Nats;
use kit_tests::probe::{Item, Probe, ProbeClient};
use kit_tests::{python, start, workspace_bin, Running};
use stringsvc::{StringService, StringServiceClient};

fn config(nats: &Nats) -> kit::Config {
    kit::Config {
        nats_url: Some(nats.url()),
        ..Default::default()
    }
}

async fn strings_server(nats: &Nats) -> Running {
    start(kit::Server::new(config(nats)).add_service(StringService)).await
}

fn strings_client(nats: &Nats) -> StringServiceClient {
    StringServiceClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .build()
        .expect("client")
}

/// A request as any NATS client sends it: the reply's `Kit-Code` and
/// `Kit-Status` headers and its payload.
async fn raw(
    nc: &async_nats::Client,
    subject: &str,
    payload: &str,
    headers: &[(&str, &str)],
) -> (Option<String>, Option<String>, String) {
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, *v);
    }
    let reply = nc
        .send_request(
            subject.to_string(),
            async_nats::Request::new()
                .payload(payload.to_string().into())
                .headers(map)
                .timeout(Some(Duration::from_secs(5))),
        )
        .await
        .unwrap_or_else(|e| panic!("{subject} {payload}: {e}"));
    let header = |name: &str| {
        reply
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    };
    (
        header("Kit-Code"),
        header("Kit-Status"),
        String::from_utf8_lossy(&reply.payload).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_and_errors_carry_the_http_json_and_kit_code() {
    let nats = Nats::start();
    let server = strings_server(&nats).await;
    let nc = nats.connect().await;

    let (code, status, body) = raw(&nc, "strings.uppercase", r#"{"s":"hi"}"#, &[]).await;
    assert_eq!((code, status, body.as_str()), (None, None, r#""HI""#));
    let (code, _, body) = raw(&nc, "strings.count", r#"{"s":"abcd"}"#, &[]).await;
    assert_eq!((code, body.as_str()), (None, "4"));

    // The example's error: the same error JSON as over HTTP, the code in
    // a header.
    let (code, status, body) = raw(&nc, "strings.uppercase", r#"{"s":""}"#, &[]).await;
    assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"));
    assert_eq!(status.as_deref(), Some("400"));
    let json: serde_json::Value = serde_json::from_str(&body).expect(&body);
    assert_eq!(json["error"]["status"], "INVALID_ARGUMENT", "{body}");
    assert_eq!(json["error"]["message"], "empty string", "{body}");

    // A malformed payload is refused the same way, and serving goes on.
    let (code, _, body) = raw(&nc, "strings.uppercase", "not json", &[]).await;
    assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"), "{body}");
    let (code, _, body) = raw(&nc, "strings.uppercase", r#"{"s":"again"}"#, &[]).await;
    assert_eq!((code, body.as_str()), (None, r#""AGAIN""#));

    // The generated client, over NATS.
    let client = strings_client(&nats);
    assert_eq!(client.uppercase("typed").await.unwrap(), "TYPED");
    assert_eq!(client.count("abc").await.unwrap(), 3);
    let err = client.uppercase("").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert_eq!(err.message(), "empty string");

    // The streaming endpoint is not on NATS: no subscription, and the
    // client says why.
    let err = client.letters("abc").await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err}");
    assert!(err.message().contains("streams"), "{err}");
    let no_one = nc
        .request("strings.letters", r#"{"s":"abc"}"#.into())
        .await
        .unwrap_err();
    assert_eq!(
        no_one.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{no_one}"
    );

    // Metrics and logs label the requests transport="nats", server and client.
    let text = metrics(server.addr).await;
    let served = |code: &str| {
        metric(
            &text,
            "kit_server_requests_total",
            &[
                ("endpoint", "uppercase"),
                ("transport", "nats"),
                ("code", code),
            ],
        )
    };
    assert_eq!(served("OK"), 3.0, "{text}");
    assert_eq!(served("INVALID_ARGUMENT"), 3.0, "{text}");
    let http = metric(
        &text,
        "kit_server_requests_total",
        &[("endpoint", "uppercase"), ("transport", "http")],
    );
    assert_eq!(http, 0.0, "{text}");
    let called = metric(
        &text,
        "kit_client_requests_total",
        &[("endpoint", "uppercase"), ("transport", "nats")],
    );
    assert_eq!(called, 2.0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_generated_client_sends_every_argument_shape() {
    let nats = Nats::start();
    let _server = start(kit::Server::new(config(&nats)).add_service(Probe::default())).await;
    let client = ProbeClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .build()
        .unwrap();
    // Path and optional query.
    assert_eq!(
        client.get_item(7, true).await.unwrap().name,
        "item number 7"
    );
    assert_eq!(client.get_item(7, None).await.unwrap().name, "item7");
    // Query only.
    assert_eq!(client.search("q", 3).await.unwrap(), ["q-0", "q-1", "q-2"]);
    assert_eq!(client.search("q", None).await.unwrap().len(), 2);
    // Path and #[body].
    let item = Item {
        id: 5,
        name: "five".into(),
        tags: vec!["a b".into()],
    };
    assert_eq!(client.put_item(5, item.clone()).await.unwrap(), item);
    let err = client.put_item(6, item).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Path and body fields.
    let renamed = client
        .rename(9, "nine", vec!["x".to_string(), "y/z".to_string()])
        .await
        .unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (9, "nine"));
    assert_eq!(renamed.tags, ["x", "y/z"]);
    // `()` and user errors.
    client.delete_item(2).await.unwrap();
    let err = client.delete_item(0).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = client.lookup("k").await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::NotFound, "no key k"));
    let err = client.fail(10, "aborted").await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.details()[0]["code"], 10);
    let err = client.panic().await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);

    // The payload as any NATS client writes it.
    let nc = nats.connect().await;
    let (code, _, body) = raw(&nc, "probe.get_item", r#"{"id":3,"verbose":null}"#, &[]).await;
    assert_eq!(code, None, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["name"],
        "item3"
    );
    let (code, _, body) = raw(&nc, "probe.get_item", r#"{"verbose":true}"#, &[]).await;
    assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"), "{body}");
    assert!(body.contains("missing path argument `id`"), "{body}");
    let (code, _, body) = raw(&nc, "probe.get_item", r#"{"id":"x"}"#, &[]).await;
    assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlines_hold_on_the_client_and_on_the_server() {
    let nats = Nats::start();
    let _server = start(kit::Server::new(config(&nats)).add_service(Probe::default())).await;
    let client = ProbeClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .build()
        .unwrap();

    // The client's own deadline: a slow endpoint, a short timeout.
    let t0 = Instant::now();
    let err = client
        .with_timeout(Duration::from_millis(150))
        .sleep(2000)
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
    assert!(took < Duration::from_millis(600), "took {took:?}");
    println!("client deadline 150 ms: DEADLINE_EXCEEDED after {took:?}");

    // The caller's deadline reaches the server in the timeout header: the
    // server answers DEADLINE_EXCEEDED itself, long before the raw
    // request's own 5 s.
    let nc = nats.connect().await;
    let t0 = Instant::now();
    let (code, status, body) = raw(
        &nc,
        "probe.sleep",
        r#"{"millis":2000}"#,
        &[("kit-timeout-ms", "100")],
    )
    .await;
    let took = t0.elapsed();
    assert_eq!(code.as_deref(), Some("DEADLINE_EXCEEDED"), "{body}");
    assert_eq!(status.as_deref(), Some("504"));
    assert!(took < Duration::from_millis(600), "took {took:?}");
    println!("kit-timeout-ms 100: the server answered DEADLINE_EXCEEDED after {took:?}");

    // The endpoint's own `timeout = "200ms"`, with no header at all.
    let t0 = Instant::now();
    let (code, _, body) = raw(&nc, "probe.slow", r#"{"millis":1000}"#, &[]).await;
    let took = t0.elapsed();
    assert_eq!(code.as_deref(), Some("DEADLINE_EXCEEDED"), "{body}");
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_millis(700),
        "took {took:?}"
    );
    println!("endpoint timeout 200 ms: DEADLINE_EXCEEDED after {took:?}");

    // A malformed timeout header is the caller's error.
    let (code, _, body) = raw(
        &nc,
        "probe.sleep",
        r#"{"millis":1}"#,
        &[("kit-timeout-ms", "soon")],
    )
    .await;
    assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prefix_moves_the_subjects_and_no_responders_is_unavailable() {
    let nats = Nats::start();
    let config = kit::Config {
        nats_prefix: Some("prod".into()),
        ..config(&nats)
    };
    let _server = start(kit::Server::new(config).add_service(StringService)).await;
    let prefixed = StringServiceClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .nats_prefix("prod")
        .build()
        .unwrap();
    assert_eq!(prefixed.uppercase("p").await.unwrap(), "P");
    let nc = nats.connect().await;
    let (code, _, body) = raw(&nc, "prod.strings.uppercase", r#"{"s":"x"}"#, &[]).await;
    assert_eq!((code, body.as_str()), (None, r#""X""#));

    // Nobody serves strings.count without the prefix. `count` has no
    // retries, so the call fails at once.
    let t0 = Instant::now();
    let err = strings_client(&nats).count("x").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    assert!(err.message().contains("no responders"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_calls_through_the_queue_group() {
    let nats = Nats::start();
    let url = nats.url();
    let a = Process::start(&["--nats-url", &url]);
    let b = Process::start(&["--nats-url", &url]);
    let client = strings_client(&nats);
    const CALLS: usize = 200;
    let t0 = Instant::now();
    for i in 0..CALLS {
        assert_eq!(
            client.uppercase(format!("call {i}")).await.unwrap(),
            format!("CALL {i}")
        );
    }
    let took = t0.elapsed();
    let mut shares = Vec::new();
    for p in [&a, &b] {
        let text = metrics(addr_of(&p.url)).await;
        shares.push(metric(
            &text,
            "kit_server_requests_total",
            &[
                ("endpoint", "uppercase"),
                ("transport", "nats"),
                ("code", "OK"),
            ],
        ));
    }
    println!(
        "{CALLS} sequential calls in {took:?} ({:.0} calls/s); shares {shares:?}",
        CALLS as f64 / took.as_secs_f64()
    );
    assert_eq!(shares.iter().sum::<f64>(), CALLS as f64, "{shares:?}");
    for share in &shares {
        assert!(*share >= (CALLS / 10) as f64, "an unfair share: {shares:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_what_was_received_then_unsubscribes() {
    let nats = Nats::start();
    let mut cmd = Command::new(workspace_bin("slowsvc"));
    cmd.args(["--http-addr", "127.0.0.1:0", "--nats-url", &nats.url()]);
    let mut process = Process::spawn(cmd, false);
    let client = ProbeClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .build()
        .unwrap();
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.sleep(800).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    process.daemon.signal(libc::SIGTERM);
    // The call in flight is answered, then the process leaves.
    assert_eq!(call.await.unwrap().expect("answered while draining"), 800);
    assert!(
        process.daemon.wait(Duration::from_secs(10)).is_some(),
        "{}",
        process.daemon.output()
    );
    let err = client.sleep(1).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

/// A Python client (nats-py) that knows only the README: the subject
/// `SERVICE.ENDPOINT`, the payload the HTTP route takes, `Kit-Code`.
const PYTHON_CLIENT: &str = r#"
import asyncio, json, sys
import nats

async def main(url):
    nc = await nats.connect(url)
    ok = await nc.request("strings.uppercase", json.dumps({"s": "from python"}).encode(), timeout=5)
    bad = await nc.request("strings.uppercase", json.dumps({"s": ""}).encode(), timeout=5)
    print(json.dumps({
        "ok": json.loads(ok.data),
        "ok_headers": ok.headers,
        "code": (bad.headers or {}).get("Kit-Code"),
        "error": json.loads(bad.data),
    }))
    await nc.close()

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_python_nats_client_calls_by_the_documented_subject_and_payload() {
    let nats = Nats::start();
    let _server = strings_server(&nats).await;
    let out = tokio::process::Command::new(python())
        .args(["-c", PYTHON_CLIENT, &nats.url()])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(got["ok"], "FROM PYTHON", "{got}");
    assert!(got["ok_headers"].is_null(), "{got}");
    assert_eq!(got["code"], "INVALID_ARGUMENT", "{got}");
    assert_eq!(got["error"]["error"]["message"], "empty string", "{got}");
}

/// Guarded endpoints over NATS: the message's `Authorization` header is
/// read like an HTTP one; no credentials is `Kit-Code: UNAUTHENTICATED`,
/// a token without the scope PERMISSION_DENIED; the generated NATS client
/// sends its credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guarded_endpoints_over_nats() {
    use kit::auth::{ApiKeys, BasicAuth, Jwt};
    use kit::client::credentials::Bearer;
    use kit_tests::auth::creds::{claims, hs256, SECRET};
    use kit_tests::auth::{Vault, VaultClient};
    let nats = Nats::start();
    let _server = start(
        kit::Server::new(config(&nats))
            .add_service(Vault::default())
            .authenticator("jwt", Jwt::hs256(SECRET))
            .authenticator("api_key", ApiKeys::new())
            .authenticator("basic", BasicAuth::new()),
    )
    .await;
    let nc = nats.connect().await;
    let (code, status, _) = raw(&nc, "vault.whoami", "", &[]).await;
    assert_eq!(
        (code.as_deref(), status.as_deref()),
        (Some("UNAUTHENTICATED"), Some("401"))
    );
    let reader = hs256(&claims("gil", "secrets:read", serde_json::json!({})));
    let auth = format!("Bearer {reader}");
    let (code, _, body) = raw(&nc, "vault.whoami", "", &[("Authorization", &auth)]).await;
    assert_eq!(code, None, "{body}");
    assert!(body.contains("\"subject\":\"gil\""), "{body}");
    let (code, _, _) = raw(
        &nc,
        "vault.store",
        r#"{"name":"x"}"#,
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(code.as_deref(), Some("PERMISSION_DENIED"));

    let client = VaultClient::builder()
        .transport(Transport::Nats)
        .nats_url(nats.url())
        .build()
        .unwrap();
    assert_eq!(
        client.whoami().await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let who = client
        .with_credentials(Bearer::new(&reader))
        .whoami()
        .await
        .unwrap();
    assert_eq!(who.subject, "gil");
}
