//! `kit call`: any endpoint of any kit service, without its Rust types,
//! over HTTP/JSON (from `/kit/describe`) or gRPC (from reflection).

mod grpc;
pub mod http;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use kit::tls::ClientTls;
use serde_json::Value;

use crate::describe::{self, Endpoint, Service};
use crate::http::Http;
use crate::Failure;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Http,
    Grpc,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// `http` or `grpc` (default: HTTP when the endpoint has a route).
    #[arg(long, value_enum)]
    transport: Option<Transport>,
    /// Prints the trace id sent in `traceparent` and the call's timing
    /// (on stderr).
    #[arg(long)]
    trace: bool,
    /// An extra header (HTTP) or metadata entry (gRPC): `-H name:value`.
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// A PEM file of CA certificates to trust for `https://` targets
    /// (instead of the system's).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// A PEM client certificate chain to present (mTLS), with `--key`.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The PEM private key of `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// The instance: `http://HOST:PORT`, `https://HOST:PORT`, `HOST:PORT`
    /// or a discovery URL (the first instance it names is called).
    target: String,
    /// `SERVICE.ENDPOINT` as `/kit/describe` names it (`strings.uppercase`),
    /// or a gRPC method `package.Service/Method` (any gRPC server with
    /// reflection).
    method: String,
    /// The arguments: a JSON object keyed by argument name (default `{}`).
    #[arg(default_value = "{}")]
    json: String,
}

impl CallArgs {
    /// The TLS the flags ask for, if any.
    fn tls(&self) -> Result<Option<ClientTls>, Failure> {
        if self.cacert.is_none() && self.cert.is_none() {
            return Ok(None);
        }
        if !self.target.starts_with("https://") {
            return Err(Failure::new(format!(
                "--cacert, --cert and --key are for https:// targets, not `{}`",
                self.target
            )));
        }
        let mut tls = ClientTls::new();
        if let Some(ca) = &self.cacert {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls.identity_files(cert, key);
        }
        Ok(Some(tls))
    }
}

/// How the call ended.
enum Outcome {
    Ok(Option<Value>),
    Failed {
        code: String,
        message: String,
    },
    /// A stream's items, and the error that ended it, if one did.
    Items(Vec<Value>, Option<(String, String)>),
}

pub async fn run(args: CallArgs, timeout: Duration) -> Result<ExitCode, Failure> {
    let json: Value = serde_json::from_str(&args.json)
        .map_err(|e| Failure::new(format!("the arguments are not JSON: {e}")))?;
    let mut headers = Vec::new();
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Failure::new(format!("-H `{h}`: write NAME:VALUE")))?;
        headers.push((k.trim().to_lowercase(), v.trim().to_string()));
    }
    let instances = crate::target::resolve_one(&args.target, timeout).await?;
    let base = instances
        .first()
        .map(|t| t.url.clone())
        .ok_or_else(|| Failure::new(format!("{}: no instances", args.target)))?;
    let trace_id = random_hex(32);
    let span_id = random_hex(16);
    headers.push(("traceparent".into(), format!("00-{trace_id}-{span_id}-01")));

    let http = match args.tls()? {
        Some(tls) => Http::with_tls(timeout, tls)?,
        None => Http::new(timeout),
    };
    let (outcome, how, took) = if let Some((service, method)) = args.method.split_once('/') {
        if args.transport == Some(Transport::Http) {
            return Err(Failure::new(format!(
                "`{}` is a gRPC method name; over HTTP name the endpoint SERVICE.ENDPOINT",
                args.method
            )));
        }
        grpc_call(&base, service, method, None, &json, &headers, &http).await?
    } else {
        match describe::fetch(&http, &base).await {
            Ok((services, _)) => match describe::find(&services, &args.method) {
                Ok((svc, ep)) => {
                    kit_call(
                        &http,
                        &base,
                        svc,
                        ep,
                        args.transport,
                        &json,
                        &headers,
                        timeout,
                    )
                    .await?
                }
                Err(why) if args.transport == Some(Transport::Grpc) => {
                    grpc_by_dotted_name(&base, &args.method, &json, &headers, &http, why).await?
                }
                Err(why) => return Err(Failure::new(format!("{base}: {why}"))),
            },
            // Not a kit server (or no HTTP at all): gRPC names through reflection.
            Err(e) if args.transport == Some(Transport::Grpc) => {
                grpc_by_dotted_name(&base, &args.method, &json, &headers, &http, e.to_string())
                    .await?
            }
            Err(e) => return Err(e),
        }
    };
    let status = match &outcome {
        Outcome::Ok(_) | Outcome::Items(_, None) => "OK".to_string(),
        Outcome::Failed { code, .. } | Outcome::Items(_, Some((code, _))) => code.clone(),
    };
    if args.trace {
        eprintln!(
            "trace {trace_id} span {span_id}: {how}: {status} in {:.1} ms",
            took.as_secs_f64() * 1000.0
        );
    }
    match outcome {
        Outcome::Ok(Some(value)) => {
            let text = serde_json::to_string_pretty(&value)
                .map_err(|e| Failure::new(format!("cannot print the answer: {e}")))?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Ok(None) => Ok(ExitCode::SUCCESS),
        // One compact JSON line per item, as NDJSON.
        Outcome::Items(items, end) => {
            for item in items {
                println!("{item}");
            }
            match end {
                None => Ok(ExitCode::SUCCESS),
                Some((code, message)) => {
                    eprintln!("{code}: {message}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Outcome::Failed { code, message } => {
            eprintln!("{code}: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

type Called = (Outcome, String, Duration);

#[allow(clippy::too_many_arguments)]
async fn kit_call(
    http: &Http,
    base: &str,
    svc: &Service,
    ep: &Endpoint,
    transport: Option<Transport>,
    json: &Value,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Called, Failure> {
    let qualified = format!("{}.{}", svc.name, ep.name);
    let transport = transport.unwrap_or(if ep.http.is_some() {
        Transport::Http
    } else {
        Transport::Grpc
    });
    match transport {
        Transport::Http => {
            let route = ep.http.as_ref().ok_or_else(|| {
                Failure::new(format!(
                    "{qualified} has no HTTP route; call it with --transport grpc"
                ))
            })?;
            let built = http::build(&qualified, ep, route, json).map_err(Failure::new)?;
            let mut headers = headers.to_vec();
            headers.push(("kit-timeout-ms".into(), timeout.as_millis().to_string()));
            let streams = ep.streaming == "server";
            if streams {
                headers.push(("accept".into(), "application/x-ndjson".into()));
            }
            let how = format!("http {} {base}{}", built.method, built.path);
            let start = Instant::now();
            let reply = http
                .send(built.method, base, &built.path, &headers, built.body)
                .await?;
            let took = start.elapsed();
            let outcome = if streams && reply.status.is_success() {
                ndjson_outcome(&reply.body)
            } else {
                http_outcome(&reply)
            };
            Ok((outcome, how, took))
        }
        Transport::Grpc => {
            let (Some(g), Some(m)) = (&svc.grpc, &ep.grpc) else {
                return Err(Failure::new(format!(
                    "{qualified} is not served over gRPC; call it over HTTP"
                )));
            };
            grpc_call(base, &g.full_name(), &m.name, Some(ep), json, headers, http).await
        }
    }
}

/// A kit endpoint whose only argument is a `#[body]` sends that argument
/// as the gRPC request itself (when its type is a message).
fn lone_body_arg(ep: &Endpoint) -> Option<String> {
    let sent: Vec<_> = ep.sent_args().collect();
    match sent.as_slice() {
        [one] if one.source == "body" => Some(one.name.clone()),
        _ => None,
    }
}

/// kit wraps a result that is not a message in its synthesized
/// `<Method>Response { value = 1 }` over gRPC; print it as HTTP/JSON gives
/// it, so both transports answer the same JSON. A `()` result is an empty
/// message, and no body over HTTP.
fn unwrap_value(
    outcome: Outcome,
    ep: &Endpoint,
    output: &prost_reflect::MessageDescriptor,
) -> Outcome {
    let synthesized = ep
        .grpc
        .as_ref()
        .is_some_and(|g| output.name() == format!("{}Response", g.name))
        && !ep.returns.ends_with(output.name());
    if !synthesized {
        return outcome;
    }
    match outcome {
        Outcome::Ok(Some(Value::Object(map))) if map.is_empty() && output.fields().len() == 0 => {
            Outcome::Ok(None)
        }
        Outcome::Ok(Some(Value::Object(mut map)))
            if map.len() == 1
                && output.fields().len() == 1
                && output.get_field(1).is_some_and(|f| f.name() == "value") =>
        {
            Outcome::Ok(map.remove("value"))
        }
        other => other,
    }
}

async fn grpc_by_dotted_name(
    base: &str,
    name: &str,
    json: &Value,
    headers: &[(String, String)],
    http: &Http,
    kit_said: String,
) -> Result<Called, Failure> {
    let Some((service, method)) = name.rsplit_once('.') else {
        return Err(Failure::new(kit_said));
    };
    grpc_call(base, service, method, None, json, headers, http).await
}

async fn grpc_call(
    base: &str,
    service: &str,
    method: &str,
    kit_endpoint: Option<&Endpoint>,
    json: &Value,
    headers: &[(String, String)],
    http: &Http,
) -> Result<Called, Failure> {
    let timeout = http.timeout;
    let channel = crate::grpc::connect(base, timeout, http.tls.as_ref()).await?;
    let mut reflection = crate::grpc::Reflection::new(channel.clone(), base);
    let m = grpc::resolve(&mut reflection, base, service, method).await?;
    let body_arg = kit_endpoint.and_then(lone_body_arg);
    let request = grpc::encode(&m, json, body_arg.as_deref())?;
    let how = format!("grpc {base}{}", m.path);
    let start = Instant::now();
    if m.server_streaming {
        let (messages, end) =
            grpc::send_streaming(channel, &m.path, request, headers, timeout).await?;
        let took = start.elapsed();
        let mut items = Vec::with_capacity(messages.len());
        for bytes in messages {
            let item = Outcome::Ok(Some(grpc::decode(&m, bytes)?));
            let item = match kit_endpoint {
                Some(ep) => unwrap_value(item, ep, &m.output),
                None => item,
            };
            if let Outcome::Ok(value) = item {
                items.push(value.unwrap_or(Value::Null));
            }
        }
        let end = end.map(|status| {
            let code = kit::Code::from_i32(status.code() as i32);
            (code.as_str().to_string(), status.message().to_string())
        });
        return Ok((Outcome::Items(items, end), how, took));
    }
    let answer = grpc::send(channel, &m.path, request, headers, timeout).await?;
    let took = start.elapsed();
    let outcome = match answer {
        Ok(bytes) => Outcome::Ok(Some(grpc::decode(&m, bytes)?)),
        Err(status) => Outcome::Failed {
            code: kit::Code::from_i32(status.code() as i32)
                .as_str()
                .to_string(),
            message: status.message().to_string(),
        },
    };
    let outcome = match kit_endpoint {
        Some(ep) => unwrap_value(outcome, ep, &m.output),
        None => outcome,
    };
    Ok((outcome, how, took))
}

/// A kit HTTP answer: the JSON on success, the AIP-193 error otherwise
/// (or the bare status for a body that is not one).
fn http_outcome(reply: &crate::http::Reply) -> Outcome {
    if reply.status.is_success() {
        if reply.body.is_empty() {
            return Outcome::Ok(None);
        }
        return Outcome::Ok(Some(
            serde_json::from_slice(&reply.body).unwrap_or_else(|_| Value::String(reply.text())),
        ));
    }
    let error: Option<(String, String)> = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            Some((
                e.get("status")?.as_str()?.to_string(),
                e.get("message")?.as_str()?.to_string(),
            ))
        });
    match error {
        Some((code, message)) => Outcome::Failed { code, message },
        None => Outcome::Failed {
            code: kit::Code::from_http_status(reply.status)
                .as_str()
                .to_string(),
            message: format!(
                "HTTP {}: {}",
                reply.status,
                reply.text().chars().take(200).collect::<String>()
            ),
        },
    }
}

/// A kit NDJSON stream: `{"result":ITEM}` lines, and an `{"error":{...}}`
/// line that ends it.
fn ndjson_outcome(body: &[u8]) -> Outcome {
    let mut items = Vec::new();
    for line in body
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
    {
        let parsed: Option<Value> = serde_json::from_slice(line).ok();
        match parsed {
            Some(Value::Object(mut map)) if map.contains_key("result") => {
                items.push(map.remove("result").unwrap_or(Value::Null));
            }
            Some(v) if v.get("error").is_some() => {
                let e = &v["error"];
                let code = e["status"].as_str().unwrap_or("UNKNOWN").to_string();
                let message = e["message"].as_str().unwrap_or("").to_string();
                return Outcome::Items(items, Some((code, message)));
            }
            _ => {
                let text = String::from_utf8_lossy(line);
                let message = format!(
                    "not a line of a kit stream: {}",
                    text.chars().take(200).collect::<String>()
                );
                return Outcome::Items(items, Some(("INTERNAL".into(), message)));
            }
        }
    }
    Outcome::Items(items, None)
}

/// Random lowercase hex, not all zero (W3C trace and span ids).
pub fn random_hex(len: usize) -> String {
    loop {
        let s: String = (0..len)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect();
        if s.chars().any(|c| c != '0') {
            return s;
        }
    }
}
