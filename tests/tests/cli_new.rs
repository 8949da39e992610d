//! `kit new`: the scaffolded crate builds, its integration test passes,
//! its binary serves (called with `kit call` over both transports) and its
//! client example talks to it. It builds into this workspace's target
//! directory with this workspace's Cargo.lock, so dependencies are reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use kit_tests::cli::kit;
use kit_tests::observe::KitProcess;
use kit_tests::registry::TempDir;
use serde_json::json;

fn target_dir() -> PathBuf {
    // target/<profile>/deps/<test binary> -> target
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

#[test]
fn new_scaffolds_a_crate_that_builds_tests_serves_and_calls() {
    let dir = TempDir::new("cli-new");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root");
    let kit_path = root.display().to_string();
    let dir_arg = dir.path().display().to_string();
    let run = kit(&[
        "new",
        "hello-fleet",
        "--kit-path",
        &kit_path,
        "--dir",
        &dir_arg,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let krate = dir.path().join("hello-fleet");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "src/main.rs",
        "examples/hello_fleet_client.rs",
        "tests/service.rs",
    ] {
        assert!(
            krate.join(file).is_file(),
            "{file} missing:\n{}",
            run.stdout
        );
    }

    let out = Command::new(env!("CARGO"))
        .args(["test", "--quiet"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the scaffold's test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Its binary (built by `cargo test`) serves; kit calls it over both transports.
    let service = KitProcess::start("hello-fleet", &[], &[]);
    for transport in ["http", "grpc"] {
        let run = kit(&[
            "call",
            "--transport",
            transport,
            &service.url(),
            "hello_fleet.greet",
            r#"{"name":"ada","times":2}"#,
        ]);
        assert_eq!(
            (run.code, run.json()),
            (0, json!({"text": "hello, ada", "times": 2})),
            "{run:?}"
        );
    }
    let client = Command::new(target_dir().join("debug/examples/hello_fleet_client"))
        .arg(service.url())
        .output()
        .expect("the client example runs");
    assert_eq!(
        String::from_utf8_lossy(&client.stdout),
        "http: hello, ada x2\ngrpc: hello, grace x3\n",
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );

    // Bad names and an existing directory: one line each.
    let run = kit(&["new", "9lives", "--dir", &dir_arg]);
    assert_eq!(
        run.one_line_failure(),
        "error: `9lives` is not a crate name: start with a letter, then letters, digits, - or _"
    );
    let run = kit(&["new", "hello-fleet", "--dir", &dir_arg]);
    assert_eq!(
        run.one_line_failure(),
        format!("error: {} exists already", krate.display())
    );
    let run = kit(&["new", "other", "--kit-path", &dir_arg, "--dir", &dir_arg]);
    assert!(
        run.one_line_failure().contains("no kit/Cargo.toml there"),
        "{run:?}"
    );
}
