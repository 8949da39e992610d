//! TLS and mTLS over real sockets: the example binary (stringsvc) and an
//! in-process service that returns the caller's verified certificate,
//! called by kit's generated clients over HTTP and gRPC, by curl and by
//! Python grpcio; certificates made at test time (`kit_tests::tls::Pki`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::tls::{ClientAuth, ClientTls};
use kit::{Code, Transport};
use kit_tests::tls::{connect, der_of, presented_certificate, Pki, WhoAmI, WhoAmIClient};
use kit_tests::{python, workspace_bin};
use stringsvc::StringServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A stringsvc process, its output in a file; killed when dropped.
struct Svc {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Svc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Svc {
    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }

    /// `https://localhost:PORT`: the certificate names localhost.
    fn url(&self) -> String {
        format!("https://localhost:{}", self.port())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
}

/// Starts stringsvc with `args` and waits until it accepts connections.
fn stringsvc(pki: &Pki, name: &str, args: &[String]) -> Svc {
    let addr = free_addr();
    let log = pki.path(&format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(workspace_bin("stringsvc"))
        .args(["--http-addr", &addr])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut svc = Svc { child, addr, log };
    for _ in 0..400 {
        if std::net::TcpStream::connect(&svc.addr).is_ok() {
            return svc;
        }
        assert!(svc.running(), "stringsvc exited:\n{}", svc.log());
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("stringsvc did not start:\n{}", svc.log());
}

fn tls_args(pki: &Pki, cert: &str) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        pki.arg(&format!("{cert}.pem")),
        "--tls-key".into(),
        pki.arg(&format!("{cert}.key")),
    ]
}

fn mtls_args(pki: &Pki) -> Vec<String> {
    let mut args = tls_args(pki, "server");
    args.extend(["--tls-client-ca".into(), pki.arg("ca.pem")]);
    args
}

fn strings(url: &str, transport: Transport, tls: ClientTls) -> StringServiceClient {
    StringServiceClient::builder()
        .base_url(url)
        .transport(transport)
        .tls(tls)
        .timeout(Duration::from_secs(5))
        .retries(0)
        .build()
        .unwrap()
}

const BOTH: [Transport; 2] = [Transport::Http, Transport::Grpc];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_http_and_grpc_calls_and_streams_on_one_port() {
    let pki = Pki::new("serve");
    let svc = stringsvc(&pki, "serve", &tls_args(&pki, "server"));
    let trust = || ClientTls::new().ca_file(pki.path("ca.pem"));
    for transport in BOTH {
        let client = strings(&svc.url(), transport, trust());
        assert_eq!(client.uppercase("hi").await.unwrap(), "HI", "{transport:?}");
        assert_eq!(client.count("hello").await.unwrap(), 5, "{transport:?}");
        let err = client.uppercase("").await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{transport:?}: {err}");
        // Streaming calls go through the same connector.
        let mut letters = client.letters("abc").await.unwrap();
        let mut got = Vec::new();
        while let Some(letter) = letters.message().await.unwrap() {
            got.push(letter);
        }
        assert_eq!(got, ["A", "B", "C"], "{transport:?}");
    }
    // HTTP/2 over TLS for the HTTP transport too (ALPN h2).
    let h2 = StringServiceClient::builder()
        .base_url(svc.url())
        .http2_only(true)
        .tls(trust())
        .build()
        .unwrap();
    assert_eq!(h2.uppercase("h2").await.unwrap(), "H2");
    // The server name may differ from the host dialed.
    let by_ip = format!("https://{}", svc.addr);
    let named = strings(&by_ip, Transport::Grpc, trust().server_name("localhost"));
    assert_eq!(named.uppercase("ip").await.unwrap(), "IP");
    let misnamed = strings(
        &by_ip,
        Transport::Http,
        trust().server_name("elsewhere.test"),
    );
    let err = misnamed.uppercase("x").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    let log = svc.log();
    assert!(
        log.contains(&format!("https://{}", svc.addr)),
        "the banner says https:\n{log}"
    );
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_refuse_servers_they_cannot_verify() {
    let pki = Pki::new("refuse");
    let svc = stringsvc(&pki, "refuse", &tls_args(&pki, "server"));
    let expired = stringsvc(&pki, "expired", &tls_args(&pki, "expired"));
    for transport in BOTH {
        let wrong_ca = strings(
            &svc.url(),
            transport,
            ClientTls::new().ca_file(pki.path("other-ca.pem")),
        );
        let err = wrong_ca.uppercase("x").await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{transport:?}: {err}");
        assert!(
            err.message().contains("UnknownIssuer"),
            "{transport:?}: {err}"
        );
        let trusting = ClientTls::new().ca_file(pki.path("ca.pem"));
        let err = strings(&expired.url(), transport, trusting)
            .uppercase("x")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{transport:?}: {err}");
        assert!(err.message().contains("expired"), "{transport:?}: {err}");
    }
    // Without .tls(..), https:// trusts the system's CAs, not the test CA.
    let system = StringServiceClient::builder()
        .base_url(svc.url())
        .retries(0)
        .build();
    match system {
        Ok(client) => {
            let err = client.uppercase("x").await.unwrap_err();
            assert_eq!(err.code(), Code::Unavailable, "{err}");
        }
        Err(e) => assert!(e.message().contains("no CA certificates"), "{e}"),
    }
    // .tls(..) with an http:// base URL is a mistake, said at build.
    let err = StringServiceClient::builder()
        .base_url(format!("http://{}", svc.addr))
        .tls(ClientTls::new())
        .build()
        .err()
        .unwrap();
    assert!(err.message().contains("write https://"), "{err}");
}

async fn whoami_server(pki: &Pki, auth: ClientAuth) -> kit_tests::Running {
    kit_tests::start(
        kit::Server::default()
            .tls(pki.path("server.pem"), pki.path("server.key"))
            .tls_client_ca(pki.path("ca.pem"))
            .tls_client_auth(auth)
            .add_service(WhoAmI),
    )
    .await
}

fn whoami(server: &kit_tests::Running, transport: Transport, tls: ClientTls) -> WhoAmIClient {
    WhoAmIClient::builder()
        .base_url(format!("https://localhost:{}", server.addr.port()))
        .transport(transport)
        .tls(tls)
        .timeout(Duration::from_secs(5))
        .retries(0)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_gives_handlers_the_verified_identity_and_refuses_others() {
    let pki = Pki::new("mtls");
    let server = whoami_server(&pki, ClientAuth::Required).await;
    let ca = || ClientTls::new().ca_file(pki.path("ca.pem"));
    for transport in BOTH {
        let orders = whoami(
            &server,
            transport,
            ca().identity_files(pki.path("client.pem"), pki.path("client.key")),
        );
        let peer = orders.whoami().await.unwrap();
        assert!(peer.verified, "{transport:?}");
        assert_eq!(peer.subject, "CN=orders,O=Kit Tests", "{transport:?}");
        assert_eq!(peer.common_name, "orders");
        assert_eq!(peer.spiffe_id, "spiffe://kit.test/ns/prod/sa/orders");
        // Every request of the connection carries it.
        assert_eq!(orders.whoami().await.unwrap(), peer);

        let batch = whoami(
            &server,
            transport,
            ca().identity_pem(pki.read("plain-client.pem"), pki.read("plain-client.key")),
        );
        let peer = batch.whoami().await.unwrap();
        assert_eq!(peer.subject, "CN=batch,O=Kit Tests", "{transport:?}");
        assert_eq!(peer.spiffe_id, "", "{transport:?}");

        // Required: no certificate, or one of another CA, is refused.
        let err = whoami(&server, transport, ca()).whoami().await.unwrap_err();
        refused_after_handshake(&err, "CertificateRequired");
        let rogue = whoami(
            &server,
            transport,
            ca().identity_files(pki.path("rogue-client.pem"), pki.path("rogue-client.key")),
        );
        let err = rogue.whoami().await.unwrap_err();
        refused_after_handshake(&err, "UnknownCA");
    }
    // The server refused them for those reasons.
    let metrics = server_metrics(&pki, &server);
    for reason in ["no_client_cert", "bad_certificate"] {
        assert!(
            handshake_errors(&metrics, reason) >= 2,
            "{reason}:\n{metrics}"
        );
    }
}

/// `kit_server_tls_handshake_errors_total{reason}` in a `/metrics` text.
fn handshake_errors(metrics: &str, reason: &str) -> u64 {
    let series = format!("kit_server_tls_handshake_errors_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// A client certificate refused by the server. In TLS 1.3 the server says
/// so after the client's handshake is done: the call fails UNAVAILABLE
/// with the server's alert when the client read it before the connection
/// closed, or as a connection closed under the call (gRPC: UNKNOWN
/// "transport error" or CANCELLED) when the close came first.
fn refused_after_handshake(err: &kit::Error, alert: &str) {
    match err.code() {
        Code::Unavailable => {}
        Code::Unknown | Code::Cancelled => {
            assert!(
                err.message().contains("transport error") || err.message().contains("canceled"),
                "{err}"
            )
        }
        other => panic!("{other:?}: {err}"),
    }
    if err.message().contains("alert") {
        assert!(err.message().contains(alert), "{err}");
    }
}

/// The server's `/metrics`, fetched with curl and a client certificate.
fn server_metrics(pki: &Pki, server: &kit_tests::Running) -> String {
    let port = server.addr.port();
    let out = curl(&[
        "--cacert",
        &pki.arg("ca.pem"),
        "--cert",
        &pki.arg("client.pem"),
        "--key",
        &pki.arg("client.key"),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        &format!("https://localhost:{port}/metrics"),
    ]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_serve_callers_without_one() {
    let pki = Pki::new("optional");
    let server = whoami_server(&pki, ClientAuth::Optional).await;
    let ca = || ClientTls::new().ca_file(pki.path("ca.pem"));
    for transport in BOTH {
        let anonymous = whoami(&server, transport, ca()).whoami().await.unwrap();
        assert!(!anonymous.verified, "{transport:?}");
        assert_eq!(anonymous.subject, "");
        let orders = whoami(
            &server,
            transport,
            ca().identity_files(pki.path("client.pem"), pki.path("client.key")),
        );
        let peer = orders.whoami().await.unwrap();
        assert!(peer.verified, "{transport:?}");
        assert_eq!(peer.common_name, "orders");
        // Optional, but a certificate presented must verify.
        let rogue = whoami(
            &server,
            transport,
            ca().identity_files(pki.path("rogue-client.pem"), pki.path("rogue-client.key")),
        );
        let err = rogue.whoami().await.unwrap_err();
        refused_after_handshake(&err, "UnknownCA");
    }
    let metrics = server_metrics(&pki, &server);
    assert!(
        handshake_errors(&metrics, "bad_certificate") >= 2,
        "{metrics}"
    );
    assert_eq!(handshake_errors(&metrics, "no_client_cert"), 0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_reaches_new_connections_without_a_restart() {
    let pki = Pki::new("rotate");
    pki.write("live.pem", &pki.read("server.pem"));
    pki.write("live.key", &pki.read("server.key"));
    let mut svc = stringsvc(&pki, "rotate", &tls_args(&pki, "live"));
    let (ca, other_ca) = (pki.read("ca.pem"), pki.read("other-ca.pem"));
    let both = [ca.as_str(), other_ca.as_str()];
    let first = presented_certificate(&svc.addr, &both).await.unwrap();
    assert_eq!(first, der_of(&pki.read("server.pem")));
    let old = strings(
        &svc.url(),
        Transport::Http,
        ClientTls::new().ca_file(pki.path("ca.pem")),
    );
    assert_eq!(old.uppercase("before").await.unwrap(), "BEFORE");

    // Rotate to a certificate of another CA: key first, then the chain.
    pki.write("live.key", &pki.read("other-server.key"));
    pki.write("live.pem", &pki.read("other-server.pem"));
    let rotated = der_of(&pki.read("other-server.pem"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = presented_certificate(&svc.addr, &both).await.unwrap();
        if now == rotated {
            break;
        }
        assert!(Instant::now() < deadline, "not rotated:\n{}", svc.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(svc.running(), "the same process serves");
    let new = strings(
        &svc.url(),
        Transport::Grpc,
        ClientTls::new().ca_file(pki.path("other-ca.pem")),
    );
    assert_eq!(new.uppercase("after").await.unwrap(), "AFTER");
    assert!(
        svc.log().contains("reloaded the TLS certificate"),
        "{}",
        svc.log()
    );

    // A broken file keeps the certificate in use, with a warning.
    pki.write("live.pem", "not a certificate");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !svc.log().contains("TLS certificate not reloaded") {
        assert!(Instant::now() < deadline, "no warning:\n{}", svc.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(svc.log().contains("live.pem"), "{}", svc.log());
    let still = presented_certificate(&svc.addr, &both).await.unwrap();
    assert_eq!(still, rotated);
    assert_eq!(new.uppercase("still").await.unwrap(), "STILL");
    assert!(svc.running());
}

/// Reads what the server sends until it closes (or 5 s pass).
fn read_all(tcp: &mut std::net::TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (got, started.elapsed())
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed by scripts/install-test-deps")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_silent_peers_fail_the_handshake_and_the_server_keeps_serving() {
    let pki = Pki::new("plain");
    let mut args = tls_args(&pki, "server");
    args.extend(["--header-timeout".into(), "1s".into()]);
    let mut svc = stringsvc(&pki, "plain", &args);
    let client = strings(
        &svc.url(),
        Transport::Http,
        ClientTls::new().ca_file(pki.path("ca.pem")),
    );

    // Plain HTTP to the TLS port: no HTTP answer, the connection closes.
    let mut plain = std::net::TcpStream::connect(&svc.addr).unwrap();
    plain
        .write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .unwrap();
    let (got, _) = read_all(&mut plain);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // A peer that never says hello is closed at the header timeout, and
    // does not hold up anyone else meanwhile.
    let mut silent = std::net::TcpStream::connect(&svc.addr).unwrap();
    assert_eq!(client.uppercase("meanwhile").await.unwrap(), "MEANWHILE");
    let (got, waited) = read_all(&mut silent);
    assert!(got.is_empty());
    assert!(
        waited < Duration::from_secs(4),
        "closed after {waited:?}, not at the 1 s header timeout"
    );

    // Over TLS, the header clock reads the decrypted bytes: a request
    // head that never ends is cut at the header timeout...
    let ca = pki.read("ca.pem");
    let mut slow = connect(&svc.addr, &[&ca], &[b"http/1.1"]).await.unwrap();
    let opened = Instant::now();
    slow.write_all(b"POST /count HTTP/1.1\r\nhost: localhost\r\nx-slow: ")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    let waited = opened.elapsed();
    assert!(
        waited > Duration::from_millis(500) && waited < Duration::from_secs(4),
        "a TLS request head was cut after {waited:?} (header timeout 1 s)"
    );
    // ... and an HTTP/2 connection (ALPN h2, then the preface) is not
    // timed as a head: it stays open past the header timeout.
    let mut h2 = connect(&svc.addr, &[&ca], &[b"h2"]).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h2.write_all(b"\0\0\x08\x06\0\0\0\0\0kitping!")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    let answered = tokio::time::timeout(Duration::from_secs(2), async {
        // Frames until the PING ack (type 6, flag ACK).
        loop {
            h2.read_exact(&mut frame).await?;
            let len =
                usize::from(frame[0]) << 16 | usize::from(frame[1]) << 8 | usize::from(frame[2]);
            let mut payload = vec![0u8; len];
            h2.read_exact(&mut payload).await?;
            if frame[3] == 6 && frame[4] & 1 == 1 {
                return Ok::<_, std::io::Error>(payload);
            }
        }
    })
    .await;
    assert_eq!(answered.unwrap().unwrap(), b"kitping!");

    assert_eq!(client.uppercase("after").await.unwrap(), "AFTER");
    assert!(svc.running());
    let metrics = curl(&[
        "--cacert",
        &pki.arg("ca.pem"),
        "--resolve",
        &format!("localhost:{}:127.0.0.1", svc.port()),
        &format!("{}/metrics", svc.url()),
    ]);
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    for reason in ["protocol", "timeout"] {
        assert_eq!(
            handshake_errors(&metrics, reason),
            1,
            "{reason}:\n{metrics}"
        );
    }
}

#[test]
fn curl_calls_over_tls_and_mtls_on_http1_and_http2() {
    let pki = Pki::new("curl");
    let svc = stringsvc(&pki, "curl", &mtls_args(&pki));
    let resolve = format!("localhost:{}:127.0.0.1", svc.port());
    let url = format!("{}/uppercase", svc.url());
    let (ca, cert, key) = (
        pki.arg("ca.pem"),
        pki.arg("client.pem"),
        pki.arg("client.key"),
    );
    for (version, expected) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let out = curl(&[
            version,
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "--resolve",
            &resolve,
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"s":"curl"}"#,
            "-w",
            "\n%{http_version}",
            &url,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(text, format!("\"CURL\"\n{expected}"));
    }
    // No client certificate: refused (mTLS is required).
    let out = curl(&["--cacert", &ca, "--resolve", &resolve, "-d", "{}", &url]);
    assert!(!out.status.success(), "{:?}", out);
    // A CA that did not sign the server's certificate: refused by curl.
    let out = curl(&[
        "--cacert",
        &pki.arg("other-ca.pem"),
        "--cert",
        &cert,
        "--key",
        &key,
        "--resolve",
        &resolve,
        &url,
    ]);
    assert!(!out.status.success(), "{:?}", out);
    // /kit/describe says TLS and mTLS, and names no file.
    let out = curl(&[
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--resolve",
        &resolve,
        &format!("{}/kit/describe", svc.url()),
    ]);
    let describe: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let server = &describe[0]["server"];
    assert_eq!(server["tls"], true, "{describe}");
    assert_eq!(server["tls_client_certificates"], "required", "{describe}");
    let text = describe.to_string();
    assert!(!text.contains(".pem") && !text.contains(".key"), "{text}");
}

#[test]
fn grpcio_calls_over_tls_and_mtls() {
    let pki = Pki::new("grpcio");
    let out = Command::new(workspace_bin("stringsvc"))
        .arg("--emit-proto")
        .output()
        .unwrap();
    assert!(out.status.success());
    let root = pki.path("proto");
    std::fs::create_dir_all(root.join("strings")).unwrap();
    std::fs::write(root.join("strings/v1.proto"), &out.stdout).unwrap();
    let script = kit_tests::python_script("tls_client.py");
    let call = |svc: &Svc, extra: &[String]| -> serde_json::Value {
        let out = Command::new(python())
            .arg(&script)
            .arg(&root)
            .arg("strings/v1.proto")
            .arg(format!("localhost:{}", svc.port()))
            .arg(pki.path("ca.pem"))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let tls = stringsvc(&pki, "grpcio-tls", &tls_args(&pki, "server"));
    assert_eq!(call(&tls, &[])["ok"], "SECURE");
    let mtls = stringsvc(&pki, "grpcio-mtls", &mtls_args(&pki));
    let identity = [pki.arg("client.pem"), pki.arg("client.key")];
    assert_eq!(call(&mtls, &identity)["ok"], "SECURE");
    assert_eq!(call(&mtls, &[])["code"], "UNAVAILABLE");
}

#[test]
fn bad_tls_files_stop_the_start_with_the_file_named() {
    let pki = Pki::new("badfiles");
    let run = |args: &[String]| {
        let out = Command::new(workspace_bin("stringsvc"))
            .args(["--http-addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let missing = pki.arg("missing.pem");
    let said = run(&[
        "--tls-cert".into(),
        missing.clone(),
        "--tls-key".into(),
        pki.arg("server.key"),
    ]);
    assert!(said.contains(&missing), "{said}");
    let said = run(&[
        "--tls-cert".into(),
        pki.arg("server.pem"),
        "--tls-key".into(),
        pki.arg("client.key"),
    ]);
    assert!(said.contains("does not belong"), "{said}");
    let said = run(&["--tls-cert".into(), pki.arg("server.pem")]);
    assert!(said.contains("--tls-key"), "{said}");
    let mut args = tls_args(&pki, "server");
    args.extend(["--tls-client-ca".into(), pki.arg("server.key")]);
    let said = run(&args);
    assert!(said.contains("server.key"), "{said}");
}

#[test]
fn kit_call_reaches_https_targets_over_both_transports() {
    use kit_tests::cli::kit_within;
    let pki = Pki::new("kitcall");
    let svc = stringsvc(&pki, "kitcall", &mtls_args(&pki));
    let url = svc.url();
    let (ca, cert, key) = (
        pki.arg("ca.pem"),
        pki.arg("client.pem"),
        pki.arg("client.key"),
    );
    for transport in ["http", "grpc"] {
        let run = kit_within(
            &[
                "call",
                "--transport",
                transport,
                "--cacert",
                &ca,
                "--cert",
                &cert,
                "--key",
                &key,
                &url,
                "strings.uppercase",
                r#"{"s":"cli"}"#,
            ],
            Duration::from_secs(20),
        );
        assert_eq!(run.code, 0, "{transport}: {run:?}");
        assert_eq!(run.json(), "CLI", "{transport}");
    }
    // mTLS required: without a client certificate the call fails, in one line.
    let run = kit_within(
        &[
            "call",
            "--cacert",
            &ca,
            &url,
            "strings.uppercase",
            r#"{"s":"x"}"#,
        ],
        Duration::from_secs(20),
    );
    let line = run.one_line_failure();
    assert!(line.contains(&url), "{line}");
    // The flags are for https:// targets.
    let run = kit_within(
        &["call", "--cacert", &ca, &svc.addr, "strings.uppercase"],
        Duration::from_secs(20),
    );
    assert!(run.one_line_failure().contains("https://"), "{run:?}");
}
