//! The example as a user runs it: `stringsvc` as a process configured by
//! flag or environment, `stringcli` calling it through the generated client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use kit_tests::workspace_bin;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts stringsvc and returns it with the log lines up to the endpoint table.
fn spawn_stringsvc(configure: impl FnOnce(&mut Command)) -> (Kill, Vec<String>) {
    let mut cmd = Command::new(workspace_bin("stringsvc"));
    cmd.env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let mut child = cmd.spawn().expect("spawn stringsvc");
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("strings.count");
        lines.push(line);
        if done {
            break;
        }
    }
    (Kill(child), lines)
}

fn cli(addr: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(workspace_bin("stringcli"))
        .args(["--addr", &format!("http://{addr}")])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

#[test]
fn stringsvc_serves_on_the_flag_address_and_stringcli_calls_it() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (_svc, log) = spawn_stringsvc(|c| {
        c.args(["--http-addr", &addr]);
    });
    let log = log.join("\n");
    assert!(log.contains(&format!("http://{addr}")), "{log}");
    assert!(log.contains("POST /uppercase"), "{log}");
    assert!(log.contains("strings.uppercase"), "{log}");

    assert_eq!(
        cli(&addr, &["uppercase", "hello"]),
        (true, "HELLO".into(), String::new())
    );
    assert_eq!(cli(&addr, &["count", "hello"]).1, "5");
    assert_eq!(
        cli(&addr, &["--transport", "grpc", "uppercase", "grpc"]),
        (true, "GRPC".into(), String::new())
    );
    // Logs to a pipe carry no terminal colours.
    assert!(!log.contains('\x1b'), "{log}");
    let (ok, _, err) = cli(&addr, &["uppercase", ""]);
    assert!(!ok);
    assert!(err.contains("INVALID_ARGUMENT: empty string"), "{err}");
}

#[test]
fn stringsvc_reads_its_address_from_the_environment() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (_svc, log) = spawn_stringsvc(|c| {
        c.env("KIT_HTTP_ADDR", &addr);
    });
    assert!(log.join("\n").contains(&addr));
    assert_eq!(cli(&addr, &["uppercase", "env"]).1, "ENV");
}

#[test]
fn stringsvc_rejects_unknown_flags() {
    let out = Command::new(workspace_bin("stringsvc"))
        .arg("--bogus")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error exits 2, like clap"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
}

#[test]
fn stringsvc_has_help_and_version() {
    let help = Command::new(workspace_bin("stringsvc"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--http-addr",
        "[env: KIT_HTTP_ADDR=]",
        "--grpc-addr",
        "--log-format",
        "--grace-period",
        "--body-limit",
        "--emit-proto",
        "--version",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    let version = Command::new(workspace_bin("stringsvc"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    // The version of the crate that defines the service.
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.trim().ends_with(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn a_start_up_error_is_one_human_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(workspace_bin("stringsvc"))
        .args(["--http-addr", &addr])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: UNAVAILABLE: cannot listen on") && last.contains(&addr),
        "{err}"
    );
}
