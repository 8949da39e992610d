//! docs/GUIDE.md, followed literally: every block marked `file:` is written
//! into a fresh directory (with `KIT_PATH` pointing at this checkout), both
//! crates are built, the service is started and the client's output is
//! the one the guide shows.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (path, contents) of every `<!-- file: PATH -->` block, and the last
/// `text` block (the expected output).
fn guide() -> (Vec<(String, String)>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join("docs/GUIDE.md")).unwrap();
    let kit_path = root.display().to_string();
    let mut files = Vec::new();
    let mut expected = String::new();
    let mut lines = text.lines();
    let mut pending: Option<String> = None;
    while let Some(line) = lines.next() {
        if let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            pending = Some(path.to_string());
        } else if line.starts_with("```") && line.len() > 3 {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let body = body.join("\n") + "\n";
            match pending.take() {
                Some(path) => files.push((path, body.replace("KIT_PATH", &kit_path))),
                None if line == "```text" => expected = body,
                None => {}
            }
        }
    }
    assert!(files.len() >= 5, "the guide lost its files: {files:?}");
    (files, expected)
}

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // The guide's crates resolve to this workspace's versions and build
    // into its target directory, so what is already compiled is reused.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs")
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("target")
        })
}

#[test]
fn the_guide_builds_and_runs_as_written() {
    let (files, expected) = guide();
    let dir = std::env::temp_dir().join(format!("kit-guide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, body) in &files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    for krate in ["greeter", "caller"] {
        let out = cargo(&dir.join(krate), &["build", "--quiet"]);
        assert!(
            out.status.success(),
            "{krate} does not build as the guide writes it:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let target = target_dir().join("debug");
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut service = Command::new(target.join("greeter"))
        .args(["--http-addr", &addr.to_string()])
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = service.stderr.take().unwrap();
    let _service = Kill(service);
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("greeter.greet") {
            break;
        }
    }
    let out = Command::new(target.join("caller"))
        .arg(format!("http://{addr}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}
