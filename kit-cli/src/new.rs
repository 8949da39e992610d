//! `kit new NAME`: a service crate that builds and runs at once: a library
//! with an annotated service, a binary serving it, a client example and an
//! integration test calling it over both transports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::Failure;

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The crate's name (`greeter`, `order-service`): letters, digits, `-`, `_`.
    pub name: String,
    /// The kit checkout to depend on by path. Default: the one this `kit`
    /// was built from, if it is still there; otherwise kit is named by
    /// version (`kit = "0.1"`).
    #[arg(long, value_name = "PATH")]
    pub kit_path: Option<PathBuf>,
    /// Where to create the crate's directory (default: here).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: NewArgs) -> Result<ExitCode, Failure> {
    let name = args.name.as_str();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Failure::new(format!(
            "`{name}` is not a crate name: start with a letter, then letters, digits, - or _"
        )));
    }
    let root = args.dir.join(name);
    if root.exists() {
        return Err(Failure::new(format!("{} exists already", root.display())));
    }
    let kit_path = match &args.kit_path {
        Some(p) => {
            if !p.join("kit/Cargo.toml").is_file() {
                return Err(Failure::new(format!(
                    "--kit-path {}: no kit/Cargo.toml there (give the root of a kit checkout)",
                    p.display()
                )));
            }
            Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        }
        None => {
            let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            built_from
                .join("kit/Cargo.toml")
                .is_file()
                .then(|| std::fs::canonicalize(&built_from).unwrap_or(built_from))
        }
    };
    let files = scaffold(name, kit_path.as_deref());
    for (path, text) in &files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
    }
    // The versions kit is tested with, when kit is a checkout at hand.
    if let Some(lock) = kit_path
        .as_ref()
        .map(|p| p.join("Cargo.lock"))
        .filter(|l| l.is_file())
    {
        std::fs::copy(&lock, root.join("Cargo.lock"))
            .map_err(|e| Failure::new(format!("cannot copy {}: {e}", lock.display())))?;
    }
    let how = match &kit_path {
        Some(p) => format!("kit by path ({})", p.display()),
        None => "kit = \"0.1\" (no kit checkout found; use --kit-path PATH for one)".into(),
    };
    println!("created {} with {how}:", root.display());
    for (path, _) in &files {
        println!("  {path}");
    }
    println!(
        "next: cd {} && cargo test && cargo run -- --http-addr 127.0.0.1:8080\n      then: cargo run --example {}_client -- http://127.0.0.1:8080",
        root.display(),
        name.replace('-', "_")
    );
    Ok(ExitCode::SUCCESS)
}

/// `order-service` -> `OrderService`.
fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The files of the new crate: (path, text).
pub fn scaffold(name: &str, kit_path: Option<&Path>) -> Vec<(String, String)> {
    let krate = name.replace('-', "_");
    let ty = camel(name);
    let kit_dep = match kit_path {
        Some(p) => format!("kit = {{ path = \"{}\" }}", p.join("kit").display()),
        None => "kit = \"0.1\"".to_string(),
    };
    let fill = |t: &str| {
        t.replace("@name@", name)
            .replace("@krate@", &krate)
            .replace("@Type@", &ty)
            .replace("@kit_dep@", &kit_dep)
    };
    vec![
        ("Cargo.toml".into(), fill(CARGO_TOML)),
        ("src/lib.rs".into(), fill(LIB_RS)),
        ("src/main.rs".into(), fill(MAIN_RS)),
        (format!("examples/{krate}_client.rs"), fill(CLIENT_RS)),
        ("tests/service.rs".into(), fill(TEST_RS)),
        (".gitignore".into(), "/target\n".into()),
    ]
}

const CARGO_TOML: &str = r#"[package]
name = "@name@"
version = "0.1.0"
edition = "2021"

[dependencies]
@kit_dep@
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

# A crate of its own, wherever it is created.
[workspace]

# As in kit's workspace: dependencies without debug info build faster.
[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
debug = false
"#;

const LIB_RS: &str = r#"//! The @name@ service. `#[kit::service]` generates its HTTP/JSON and gRPC
//! transports, its descriptor (`/kit/describe`) and `@Type@Client`.

use serde::{Deserialize, Serialize};

/// A greeting, on both transports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Greeting {
    pub text: String,
    pub times: u32,
}

/// The service's state lives here (none yet).
#[derive(Clone, Debug, Default)]
pub struct @Type@;

/// Greets people.
#[kit::service(name = "@krate@", package = "@krate@.v1")]
impl @Type@ {
    /// Greets `name`, `times` times. Fails with INVALID_ARGUMENT on an empty name.
    #[endpoint(http = "POST /greet", grpc, timeout = "1s", retry = 2, idempotent)]
    pub async fn greet(&self, name: String, times: u32) -> Result<Greeting, kit::Error> {
        if name.is_empty() {
            return Err(kit::Error::invalid_argument("name is empty"));
        }
        Ok(Greeting {
            text: format!("hello, {name}"),
            times,
        })
    }

    /// Answers `pong`: a cheap endpoint for checks.
    #[endpoint(http = "GET /ping", grpc)]
    pub async fn ping(&self) -> String {
        "pong".to_string()
    }
}
"#;

const MAIN_RS: &str = r#"//! Serves @name@: `cargo run -- --http-addr 127.0.0.1:8080` (HTTP/JSON and
//! gRPC on one port; `--help` lists every flag).

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::serve(@krate@::@Type@).await
}
"#;

const CLIENT_RS: &str = r#"//! Calls @name@ over HTTP and gRPC with the generated client:
//! `cargo run --example @krate@_client -- http://127.0.0.1:8080`.

use @krate@::@Type@Client;

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let http = @Type@Client::connect(&url).await?;
    let greeting = http.greet("ada", 2).await?;
    println!("http: {} x{}", greeting.text, greeting.times);

    let grpc = @Type@Client::builder()
        .base_url(&url)
        .transport(kit::Transport::Grpc)
        .build()?;
    let greeting = grpc.greet("grace", 3).await?;
    println!("grpc: {} x{}", greeting.text, greeting.times);
    Ok(())
}
"#;

const TEST_RS: &str = r#"//! @name@ served on a free port and called over both transports.

use @krate@::{Greeting, @Type@, @Type@Client};

#[tokio::test]
async fn greets_over_http_and_grpc() {
    let server = kit::Server::new(kit::Config::default())
        .add_service(@Type@)
        .http_addr(([127, 0, 0, 1], 0).into());
    let listening = server.bind().await.expect("bind");
    let url = format!("http://{}", listening.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(listening.run_until(async move {
        let _ = stopped.await;
    }));

    let http = @Type@Client::connect(&url).await.expect("connect");
    let want = Greeting {
        text: "hello, ada".into(),
        times: 2,
    };
    assert_eq!(http.greet("ada", 2).await.expect("http"), want);
    let grpc = @Type@Client::builder()
        .base_url(&url)
        .transport(kit::Transport::Grpc)
        .build()
        .expect("client");
    assert_eq!(grpc.greet("ada", 2).await.expect("grpc"), want);
    let err = grpc.greet("", 1).await.expect_err("empty name");
    assert_eq!(err.code(), kit::Code::InvalidArgument);

    let _ = stop.send(());
    serving.await.expect("joined").expect("served");
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types_and_crates() {
        assert_eq!(camel("order-service"), "OrderService");
        assert_eq!(camel("greeter"), "Greeter");
        let files = scaffold("order-service", Some(Path::new("/k")));
        let lib = &files[1].1;
        assert!(lib.contains("pub struct OrderService;"), "{lib}");
        assert!(lib
            .contains(r#"#[kit::service(name = "order_service", package = "order_service.v1")]"#));
        assert!(files[0].1.contains(r#"kit = { path = "/k/kit" }"#));
        assert_eq!(files[3].0, "examples/order_service_client.rs");
        assert!(scaffold("x", None)[0].1.contains("kit = \"0.1\""));
    }
}
