//! Every `.proto` kit emits compiles with protoc: the services of this
//! test binary (the example, the probe, the inventory, two services that
//! share a package) and `--emit-proto DIR` of a binary serving several.

use std::path::{Path, PathBuf};
use std::process::Command;

use kit::Server;
use kit_tests::inventory::Inventory;
use kit_tests::probe::{Front, Probe, ProbeClient};
use kit_tests::shared::{Orders, Refunds};
use kit_tests::workspace_bin;

fn protoc(root: &Path, files: &[String]) {
    let out = Command::new("protoc")
        .arg(format!("-I{}", root.display()))
        .arg(format!(
            "--descriptor_set_out={}",
            root.join("all.pb").display()
        ))
        .args(files)
        .output()
        .expect("protoc runs (scripts/test installs protobuf-compiler)");
    assert!(
        out.status.success(),
        "protoc rejected {files:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_emitted_proto_compiles() {
    let probe = ProbeClient::builder()
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    let server = Server::default()
        .add_service(stringsvc::StringService)
        .add_service(Probe::default())
        .add_service(Front { probe })
        .add_service(Inventory::default())
        .add_service(Orders)
        .add_service(Refunds);
    let protos = server.protos().unwrap();
    // One file per package: the two services of shared.v1 are one file.
    let names: Vec<&str> = protos.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "strings/v1.proto",
            "kit/probe/v1.proto",
            "kit/front/v1.proto",
            "inventory/v1.proto",
            "shared/v1.proto"
        ]
    );
    let shared = &protos[4].1;
    assert!(shared.contains("service Orders {") && shared.contains("service Refunds {"));
    let root = temp_dir("protos");
    for (name, text) in &protos {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let files: Vec<String> = protos.iter().map(|(n, _)| n.clone()).collect();
    protoc(&root, &files);
    // An rpc named like its response message: valid because kit writes
    // fully qualified names.
    let inventory = &protos[3].1;
    assert!(
        inventory.contains("rpc RequestInfo(.inventory.v1.RequestInfoRequest) returns (.inventory.v1.RequestInfo);"),
        "{inventory}"
    );
}

#[test]
fn emit_proto_dir_writes_one_file_per_package() {
    let dir = temp_dir("emit-dir");
    let out = Command::new(workspace_bin("inventorysvc"))
        .arg("--emit-proto")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            Path::new(l)
                .strip_prefix(&dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    written.sort();
    assert_eq!(written, ["inventory/v1.proto", "shared/v1.proto"]);
    protoc(&dir, &written);
    // On stdout, several files would not be one valid .proto: refused.
    let out = Command::new(workspace_bin("inventorysvc"))
        .arg("--emit-proto")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--emit-proto DIR"), "{err}");
}
