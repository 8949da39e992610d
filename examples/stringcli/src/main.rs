//! Calls a running stringsvc through the client that `#[kit::service]`
//! generated in the `stringsvc` crate, over HTTP/JSON or gRPC.
//!
//! ```text
//! cargo run -p stringcli -- [--addr http://127.0.0.1:8080] [--transport grpc] uppercase hello
//! cargo run -p stringcli -- count hello
//! ```

use std::process::ExitCode;

use stringsvc::StringServiceClient;

const USAGE: &str =
    "usage: stringcli [--addr URL] [--transport http|grpc] (uppercase|count) STRING";

#[tokio::main]
async fn main() -> ExitCode {
    let mut addr =
        std::env::var("STRINGSVC_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let mut transport = kit::Transport::Http;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => match args.next() {
                Some(a) => addr = a,
                None => return usage(),
            },
            "--transport" => match args.next().as_deref() {
                Some("http") => transport = kit::Transport::Http,
                Some("grpc") => transport = kit::Transport::Grpc,
                _ => return usage(),
            },
            _ => rest.push(arg),
        }
    }
    let [command, input] = match <[String; 2]>::try_from(rest) {
        Ok(pair) => pair,
        Err(_) => return usage(),
    };
    let client = match StringServiceClient::builder()
        .base_url(&addr)
        .transport(transport)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "uppercase" => client.uppercase(input).await,
        "count" => client.count(input).await.map(|n| n.to_string()),
        _ => return usage(),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
