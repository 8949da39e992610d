//! The guarded test service as a process configured by its flags (users
//! file made by `kit hash-password`, keys file by `kit hash-api-key`, an
//! HS256 secret file, `/metrics` behind basic), and what it logs: after
//! every kind of good and bad credential on both transports, with DEBUG
//! logs and the access log on, no secret appears in its output.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use kit::client::credentials::{ApiKey, Basic, Bearer};
use kit::{Code, Transport};
use kit_tests::auth::creds::{self, claims, hs256, SECRET};
use kit_tests::auth::VaultClient;
use kit_tests::registry::{free_port, wait_for_port, Daemon, TempDir};
use kit_tests::{raw, workspace_bin};
use serde_json::json;

const ROOT_PASSWORD: &str = "pw-root-4d1c8e";
const WRONG_PASSWORD: &str = "pw-wrong-77ab01";
const GOOD_KEY: &str = "key-good-5e9f2a";
const BAD_KEY: &str = "key-bad-0c3d4b";

/// `kit SUBCOMMAND ARG` with `secret` on stdin: its one line of output.
fn kit_line(subcommand: &str, arg: &str, secret: &str) -> String {
    let mut child = Command::new(kit_tests::cli::kit_bin())
        .args([subcommand, arg])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kit runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(secret.as_bytes())
        .expect("write secret");
    let out = child.wait_with_output().expect("kit finishes");
    assert!(out.status.success(), "kit {subcommand} failed");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// authsvc started with its authenticators from files in `dir`: an HS256
/// secret (issuer `kit-tests`, audience `vault`), a users file with `root`
/// (role admin) from `kit hash-password`, a keys file with `ci`
/// (scope secrets:write) from `kit hash-api-key`, `/metrics` behind basic,
/// DEBUG logs as JSON. Returns the process, its URL and address.
fn start_authsvc(dir: &TempDir) -> (Daemon, String, std::net::SocketAddr) {
    let secret_file = dir.path().join("jwt.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let users = dir.path().join("users");
    std::fs::write(
        &users,
        format!(
            "# users\n{} role:admin\n",
            kit_line("hash-password", "root", ROOT_PASSWORD)
        ),
    )
    .unwrap();
    let keys = dir.path().join("keys");
    let key_line = kit_line("hash-api-key", "ci", GOOD_KEY);
    assert!(key_line.starts_with("ci sha256:"), "{key_line}");
    std::fs::write(&keys, format!("{key_line} scope:secrets:write\n")).unwrap();

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(workspace_bin("authsvc"));
    cmd.args([
        "--http-addr",
        &format!("127.0.0.1:{port}"),
        "--log-format",
        "json",
    ])
    .arg("--jwt-secret-file")
    .arg(&secret_file)
    .args(["--jwt-issuer", "kit-tests", "--jwt-audience", "vault"])
    .arg("--basic-auth-file")
    .arg(&users)
    .arg("--api-keys-file")
    .arg(&keys)
    .args(["--metrics-auth", "basic"])
    .env("RUST_LOG", "debug")
    .env("VAULT_RELAY_TO", &url);
    let daemon = Daemon::spawn("authsvc", cmd);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(
        wait_for_port(addr, Duration::from_secs(20)),
        "authsvc did not start:\n{}",
        daemon.output()
    );

    (daemon, url, addr)
}

#[tokio::test]
async fn flags_configure_the_authenticators_and_no_secret_is_logged() {
    let dir = TempDir::new("auth-process");
    let (mut daemon, url, addr) = start_authsvc(&dir);
    let good = hs256(&claims("dana", "secrets:write", json!({})));
    let expired = hs256(&claims("dana", "", json!({"exp": creds::now() - 600})));
    let forged = {
        let (head, _) = good.rsplit_once('.').unwrap();
        format!(
            "{head}.{}",
            creds::b64url(b"forged-signature-bytes-000000000")
        )
    };
    for transport in [Transport::Http, Transport::Grpc] {
        let c = VaultClient::builder()
            .base_url(&url)
            .transport(transport)
            .build()
            .unwrap();
        let who = c
            .with_credentials(Bearer::new(&good))
            .whoami()
            .await
            .unwrap();
        assert_eq!(who.subject, "dana");
        for bad in [&expired, &forged] {
            let e = c
                .with_credentials(Bearer::new(bad))
                .whoami()
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{e}");
            assert!(!e.message().contains(bad.as_str()));
        }
        let who = c
            .with_credentials(ApiKey::new(GOOD_KEY))
            .store("k")
            .await
            .unwrap();
        assert_eq!(who, "stored k");
        let e = c
            .with_credentials(ApiKey::new(BAD_KEY))
            .whoami()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let admin = c
            .with_credentials(Basic::new("root", ROOT_PASSWORD))
            .admin()
            .await
            .unwrap();
        assert_eq!(admin.roles, ["admin"]);
        let e = c
            .with_credentials(Basic::new("root", WRONG_PASSWORD))
            .admin()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let relayed = c
            .with_credentials(Bearer::new(&good))
            .relay()
            .await
            .unwrap();
        assert_eq!(relayed.subject, "dana", "the token went on to the next hop");
    }

    // /health is always open; /metrics needs basic.
    assert_eq!(raw(addr, "GET", "/health", &[], "").await.status, 200);
    let r = raw(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let basic = format!(
        "Basic {}",
        kit_tests::auth::creds::b64url(format!("root:{ROOT_PASSWORD}").as_bytes())
    );
    let metrics = raw(addr, "GET", "/metrics", &[("authorization", &basic)], "").await;
    assert_eq!(
        metrics.status,
        200,
        "{}",
        String::from_utf8_lossy(&metrics.body)
    );
    let metrics = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(
        metrics.contains(r#"code="UNAUTHENTICATED""#),
        "refusals are counted by code"
    );
    let describe = raw(addr, "GET", "/kit/describe", &[], "").await;
    let describe = String::from_utf8(describe.body.to_vec()).unwrap();
    assert!(
        describe.contains(r#""requires":["scope:secrets:write"]"#),
        "{describe}"
    );
    assert!(
        describe.contains(r#""schemes":["jwt","api_key"]"#),
        "{describe}"
    );

    // The fleet tool shows who may call each endpoint.
    let table = kit_tests::cli::kit(&["describe", &url]);
    let table = table.stdout.clone();
    let store_line = table
        .lines()
        .find(|l| l.contains("vault.store"))
        .unwrap_or_default();
    assert!(
        store_line.contains("jwt|api_key scope:secrets:write"),
        "{table}"
    );
    let version_line = table
        .lines()
        .find(|l| l.contains("vault.version"))
        .unwrap_or_default();
    assert!(version_line.contains(" - "), "{table}");

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait(Duration::from_secs(15)), Some(0));
    let output = daemon.output();
    assert!(
        output.contains("UNAUTHENTICATED") && output.contains("\"endpoint\":\"whoami\""),
        "the access log was captured:\n{output}"
    );
    let signature = |t: &str| {
        t.rsplit_once('.')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default()
    };
    let secrets = [
        ("the HS256 secret", SECRET.to_owned()),
        ("a good token", good.clone()),
        ("a good token's signature", signature(&good)),
        ("an expired token's signature", signature(&expired)),
        ("a forged token's signature", signature(&forged)),
        ("the right password", ROOT_PASSWORD.to_owned()),
        ("a wrong password", WRONG_PASSWORD.to_owned()),
        (
            "the basic credentials",
            basic.trim_start_matches("Basic ").to_owned(),
        ),
        ("a good API key", GOOD_KEY.to_owned()),
        ("a bad API key", BAD_KEY.to_owned()),
    ];
    for (what, secret) in &secrets {
        assert!(!output.contains(secret.as_str()), "{what} was logged");
        assert!(
            !metrics.contains(secret.as_str()),
            "{what} is in the metrics"
        );
        assert!(
            !describe.contains(secret.as_str()),
            "{what} is in /kit/describe"
        );
    }
}

/// Python grpcio with stubs from `authsvc --emit-proto`: no metadata is
/// UNAUTHENTICATED (with the challenge in the trailers), a read-only token
/// may read but not store (PERMISSION_DENIED), a writing token may store,
/// the public method needs nothing.
#[test]
fn grpcio_sends_credentials_in_metadata() {
    let dir = TempDir::new("auth-grpcio");
    let (_daemon, _url, addr) = start_authsvc(&dir);
    let proto = Command::new(workspace_bin("authsvc"))
        .arg("--emit-proto")
        .output()
        .expect("authsvc runs");
    assert!(proto.status.success());
    let root = dir.path().join("proto");
    std::fs::create_dir_all(root.join("vault")).unwrap();
    std::fs::write(root.join("vault/v1.proto"), &proto.stdout).unwrap();
    let read = hs256(&claims("eve", "secrets:read", json!({})));
    let write = hs256(&claims("fay", "secrets:write", json!({})));
    let out = Command::new(kit_tests::python())
        .arg(kit_tests::python_script("auth.py"))
        .args([
            root.to_str().unwrap(),
            "vault/v1.proto",
            &addr.to_string(),
            &read,
            &write,
        ])
        .output()
        .expect("python runs (scripts/test makes the venv)");
    assert!(
        out.status.success(),
        "auth.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(seen["anonymous"], "UNAUTHENTICATED", "{seen}");
    assert!(
        seen["challenge"]
            .as_str()
            .unwrap()
            .contains("Bearer realm=\"kit\""),
        "{seen}"
    );
    assert_eq!(seen["reader"]["subject"], "eve");
    assert_eq!(seen["reader"]["scopes"], json!(["secrets:read"]));
    assert_eq!(seen["reader_store"], "PERMISSION_DENIED");
    assert_eq!(seen["writer_store"], "stored x");
    assert_eq!(seen["version"], "1");
}
