"""Build cost of the macros: a service with N endpoints written with
#[kit::service] against the hand-written equivalent (axum routes with serde
request structs, and a typed hyper client function per endpoint), built
clean and incrementally, and the size of kit's expanded code.

Used by run.py (full mode); runs on its own too: python3 bench/buildcost.py
"""

import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def kit_source(n, rev=1):
    eps = "\n".join(
        f"""    /// Endpoint {i}.
    #[endpoint(http = "POST /e{i}", timeout = "2s")]
    pub async fn e{i}(&self, s: String, n: u64) -> Result<String, kit::Error> {{
        Ok(format!("{{s}}{{n}}{i}r{rev}"))
    }}
"""
        for i in range(n)
    )
    return f"""pub struct Gen;

#[kit::service]
impl Gen {{
{eps}}}
"""


def hand_source(n, rev=1):
    structs = "\n".join(
        f"""#[derive(Serialize, Deserialize)]
pub struct E{i}Req {{ pub s: String, pub n: u64 }}

async fn e{i}(Json(r): Json<E{i}Req>) -> Json<String> {{
    Json(format!("{{}}{{}}{i}r{rev}", r.s, r.n))
}}

pub async fn call_e{i}(c: &Client<HttpConnector, Full<Bytes>>, base: &str, s: String, n: u64) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {{
    let body = serde_json::to_vec(&E{i}Req {{ s, n }})?;
    let req = http::Request::post(format!("{{base}}/e{i}")).header("content-type", "application/json").body(Full::new(Bytes::from(body)))?;
    let resp = c.request(req).await?;
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}}
"""
        for i in range(n)
    )
    routes = "".join(f'\n        .route("/e{i}", post(e{i}))' for i in range(n))
    return f"""use axum::routing::post;
use axum::{{Json, Router}};
use bytes::Bytes;
use http_body_util::{{BodyExt, Full}};
use hyper_util::client::legacy::{{connect::HttpConnector, Client}};
use serde::{{Deserialize, Serialize}};
use std::time::Duration;

{structs}

pub fn router() -> Router {{
    Router::new(){routes}
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(http::StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(2)))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}}
"""


CARGO_KIT = """[package]
name = "gen-kit"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
kit = {{ path = "{root}/kit" }}
"""

CARGO_HAND = """[package]
name = "gen-hand"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
axum = { version = "0.8", default-features = false, features = ["tokio", "http1", "http2", "json"] }
tower-http = { version = "0.7", features = ["trace", "timeout"] }
hyper-util = { version = "0.1", features = ["client-legacy", "http1", "http2", "tokio"] }
http-body-util = "0.1"
http = "1"
bytes = "1"
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def timed(cmd, cwd, env):
    start = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def measure(sizes=(10, 50, 100), log=print):
    work = os.path.join(TARGET, "kit-buildcost")
    shutil.rmtree(work, ignore_errors=True)
    write(os.path.join(work, "Cargo.toml"), '[workspace]\nresolver = "2"\nmembers = ["gen-kit", "gen-hand"]\n')
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), os.path.join(work, "Cargo.lock"))
    write(os.path.join(work, "gen-kit", "Cargo.toml"), CARGO_KIT.format(root=ROOT))
    write(os.path.join(work, "gen-hand", "Cargo.toml"), CARGO_HAND)
    env = {**os.environ, "CARGO_TARGET_DIR": os.path.join(TARGET, "buildcost-target")}
    rows = []
    for n in sizes:
        write(os.path.join(work, "gen-kit", "src", "lib.rs"), kit_source(n))
        write(os.path.join(work, "gen-hand", "src", "lib.rs"), hand_source(n))
        # Dependencies once, so "clean" below means this crate only.
        subprocess.run(["cargo", "build", "--quiet", "--workspace"], cwd=work, env=env, check=True)
        row = {"n": n}
        # Always build the whole workspace, so dependency features stay the
        # same and only the crate under test is rebuilt.
        for pkg in ("gen-kit", "gen-hand"):
            subprocess.run(["cargo", "clean", "--quiet", "-p", pkg], cwd=work, env=env, check=True)
            row[f"{pkg}-clean"] = timed(["cargo", "build", "--quiet", "--workspace"], work, env)
            # Incremental: one endpoint's body changes, as in everyday editing.
            source = kit_source(n, rev=2) if pkg == "gen-kit" else hand_source(n, rev=2)
            write(os.path.join(work, pkg, "src", "lib.rs"), source)
            row[f"{pkg}-incr"] = timed(["cargo", "build", "--quiet", "--workspace"], work, env)
            source = kit_source(n) if pkg == "gen-kit" else hand_source(n)
            write(os.path.join(work, pkg, "src", "lib.rs"), source)
            subprocess.run(["cargo", "build", "--quiet", "--workspace"], cwd=work, env=env, check=True)
        expanded = subprocess.run(
            ["cargo", "rustc", "--quiet", "-p", "gen-kit", "--", "-Zunpretty=expanded"],
            cwd=work, env={**env, "RUSTC_BOOTSTRAP": "1"}, check=True, capture_output=True, text=True,
        ).stdout
        row["expanded-lines"] = expanded.count("\n")
        row["source-lines"] = kit_source(n).count("\n")
        log(f"build cost n={n}: {row}")
        rows.append(row)
    return rows


def markdown(rows):
    lines = [
        "| endpoints | kit clean | hand-written clean | kit incremental | hand-written incremental | incremental ratio | kit source lines | expanded lines |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['gen-kit-clean']:.1f} s | {r['gen-hand-clean']:.1f} s | {r['gen-kit-incr']:.1f} s | {r['gen-hand-incr']:.1f} s | "
            f"{r['gen-kit-incr'] / r['gen-hand-incr']:.2f}x | {r['source-lines']} | {r['expanded-lines']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(measure(log=lambda *a: print(*a, file=sys.stderr))))
