//! Calls a running stringsvc through the client that `#[kit::service]`
//! generated in the `stringsvc` crate.
//!
//! ```text
//! cargo run -p stringcli -- [--addr http://127.0.0.1:8080] uppercase hello
//! cargo run -p stringcli -- count hello
//! ```

use std::process::ExitCode;

use stringsvc::StringServiceClient;

const USAGE: &str = "usage: stringcli [--addr URL] (uppercase|count) STRING";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut addr =
        std::env::var("STRINGSVC_ADDR").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    if args.first().map(String::as_str) == Some("--addr") {
        if args.len() < 2 {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        addr = args.remove(1);
        args.remove(0);
    }
    let [command, input] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("{USAGE}");
        std::process::exit(2)
    });
    let client = match StringServiceClient::connect(&addr).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "uppercase" => client.uppercase(input).await,
        "count" => client.count(input).await.map(|n| n.to_string()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
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
