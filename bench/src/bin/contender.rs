//! Runs one benchmark contender on `--http-addr` (default 127.0.0.1:8080):
//! `kit` (the stringsvc example, HTTP and gRPC on one port), `kit-guarded`
//! (the same endpoints with `auth = "jwt | api_key"`),
//! `axum-instrumented`, `axum-bare`, `tonic-instrumented`, `tonic-bare`.
//! For `kit`, any other flag is one of kit's own (`--concurrency off`,
//! `--access-log off`, `--metrics URL`, `--otlp-endpoint URL`, ...), and
//! kit sets up its logs as `kit::serve` does.

use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| usage());
    let mut addr = "127.0.0.1:8080".to_string();
    let mut kit_flags = vec!["kit".to_string()];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--http-addr" => addr = args.next().unwrap_or_else(|| usage()),
            _ if name.starts_with("kit") => kit_flags.push(a),
            _ => usage(),
        }
    }
    let config = kit::Cli::try_parse_from(&kit_flags)
        .unwrap_or_else(|e| e.exit())
        .config;
    if name.starts_with("kit") {
        kit::log::init(&config.observe.log_config(config.log_format)).expect("kit logs");
    } else {
        // Every contender logs the same way kit::serve does: RUST_LOG, default info.
        let filter =
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let listener = TcpListener::bind(&addr).await.expect("bind");
    eprintln!(
        "{name} listening on {}",
        listener.local_addr().expect("addr")
    );
    match name.as_str() {
        "kit" => {
            let listening = kit::Server::new(config)
                .http_addr(listener.local_addr().expect("addr"))
                .add_service(stringsvc::StringService);
            drop(listener);
            let l = listening.bind().await.expect("bind kit");
            l.run_until(kit::server::shutdown_signal())
                .await
                .expect("serve");
        }
        "kit-guarded" => {
            let listening = kit::Server::new(config)
                .http_addr(listener.local_addr().expect("addr"))
                .add_service(Guarded);
            drop(listener);
            let l = listening.bind().await.expect("bind kit");
            l.run_until(kit::server::shutdown_signal())
                .await
                .expect("serve");
        }
        "axum-instrumented" => {
            serve_axum(listener, kit_bench::contenders::axum_instrumented()).await
        }
        "axum-bare" => serve_axum(listener, kit_bench::contenders::axum_bare()).await,
        "tonic-instrumented" => kit_bench::contenders::serve_tonic(listener, true)
            .await
            .expect("serve"),
        "tonic-bare" => kit_bench::contenders::serve_tonic(listener, false)
            .await
            .expect("serve"),
        _ => usage(),
    }
}

async fn serve_axum(listener: TcpListener, router: axum::Router) {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(kit::server::shutdown_signal())
        .await
        .expect("serve");
}

/// stringsvc's HTTP endpoints behind authentication (the flags give
/// the keys: `--jwt-secret-file`, `--api-keys-file`).
struct Guarded;

#[kit::service(name = "strings", auth = "jwt | api_key")]
impl Guarded {
    #[endpoint(http = "POST /uppercase", timeout = "2s")]
    async fn uppercase(&self, s: String) -> Result<String, kit::Error> {
        if s.is_empty() {
            return Err(kit::Error::invalid_argument("empty string"));
        }
        Ok(s.to_uppercase())
    }

    #[endpoint(http = "POST /count")]
    async fn count(&self, s: String) -> u64 {
        s.len() as u64
    }
}

fn usage() -> ! {
    eprintln!("usage: contender kit|kit-guarded|axum-instrumented|axum-bare|tonic-instrumented|tonic-bare [--http-addr ADDR]");
    std::process::exit(2)
}
