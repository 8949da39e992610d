//! `/kit/describe`: what a kit server says of its services, and
//! `kit describe`, which prints it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::http::Http;
use crate::Failure;

/// One service as `/kit/describe` gives it (fields kit-cli reads; the rest
/// is kept in `extra` for `--json`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Service {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub docs: String,
    #[serde(default)]
    pub grpc: Option<GrpcService>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// The server's `--metadata` labels.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GrpcService {
    pub package: String,
    pub name: String,
}

impl GrpcService {
    /// `strings.v1.StringService`.
    pub fn full_name(&self) -> String {
        if self.package.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.package, self.name)
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Endpoint {
    pub name: String,
    #[serde(default)]
    pub docs: String,
    #[serde(default)]
    pub http: Option<Route>,
    #[serde(default)]
    pub grpc: Option<GrpcMethod>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retry: u32,
    #[serde(default)]
    pub idempotent: bool,
    #[serde(default)]
    pub rate: Option<String>,
    #[serde(default)]
    pub args: Vec<Arg>,
    #[serde(default)]
    pub returns: String,
    /// `unary`, `server`, `client` or `bidi`.
    #[serde(default)]
    pub streaming: String,
    /// Who may call (`None`: anyone).
    #[serde(default)]
    pub auth: Option<Auth>,
}

/// An endpoint's `auth` and `requires`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Auth {
    #[serde(default)]
    pub schemes: Vec<String>,
    #[serde(default)]
    pub requires: Vec<String>,
}

impl Auth {
    /// `jwt|api_key scope:write`.
    fn text(&self) -> String {
        let mut text = self.schemes.join("|");
        for r in &self.requires {
            text.push(' ');
            text.push_str(r);
        }
        text
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Route {
    pub method: String,
    pub path: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct GrpcMethod {
    pub name: String,
    pub path: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Arg {
    pub name: String,
    #[serde(default)]
    pub rust_type: String,
    pub source: String,
}

impl Endpoint {
    /// The arguments a caller sends (not the request context).
    pub fn sent_args(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| a.source != "context")
    }
}

/// `GET /kit/describe` of `base`: its services and the raw JSON. A server
/// that does not answer it as kit does is "not a kit service".
pub async fn fetch(http: &Http, base: &str) -> Result<(Vec<Service>, serde_json::Value), Failure> {
    let reply = http.get(base, "/kit/describe").await?;
    if !reply.status.is_success() {
        return Err(Failure::new(format!(
            "{base}: not a kit service (GET /kit/describe answered {})",
            reply.status
        )));
    }
    let raw: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| {
        Failure::new(format!(
            "{base}: not a kit service (GET /kit/describe did not answer JSON)"
        ))
    })?;
    let services: Vec<Service> = serde_json::from_value(raw.clone()).map_err(|e| {
        Failure::new(format!(
            "{base}: not a kit service (GET /kit/describe is not a list of services: {e})"
        ))
    })?;
    Ok((services, raw))
}

/// Finds `service.endpoint` (names as `/kit/describe` gives them).
pub fn find<'a>(
    services: &'a [Service],
    method: &str,
) -> Result<(&'a Service, &'a Endpoint), String> {
    let all = || {
        services
            .iter()
            .flat_map(|s| {
                s.endpoints
                    .iter()
                    .map(move |e| format!("{}.{}", s.name, e.name))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((svc, ep)) = method.rsplit_once('.') else {
        return Err(format!(
            "`{method}` is not SERVICE.ENDPOINT (this server has {})",
            all()
        ));
    };
    services
        .iter()
        .filter(|s| s.name == svc)
        .find_map(|s| s.endpoints.iter().find(|e| e.name == ep).map(|e| (s, e)))
        .ok_or_else(|| format!("unknown method `{method}` (this server has {})", all()))
}

/// The human form of `kit describe`: each service, then its endpoints.
pub fn render(base: &str, services: &[Service]) -> String {
    let mut out = String::new();
    for s in services {
        let _ = writeln!(out, "{} {} at {base}", s.name, s.version);
        if !s.docs.is_empty() {
            let _ = writeln!(out, "  {}", s.docs.replace('\n', "\n  "));
        }
        if let Some(g) = &s.grpc {
            let _ = writeln!(out, "  gRPC service {}", g.full_name());
        }
        let header = [
            "ENDPOINT",
            "HTTP",
            "GRPC",
            "TIMEOUT",
            "RETRY",
            "IDEMPOTENT",
            "AUTH",
            "ARGS",
        ];
        let rows: Vec<Vec<String>> = s
            .endpoints
            .iter()
            .map(|e| {
                vec![
                    format!("{}.{}", s.name, e.name),
                    e.http
                        .as_ref()
                        .map(|r| format!("{} {}", r.method, r.path))
                        .unwrap_or_else(|| "-".into()),
                    e.grpc
                        .as_ref()
                        .map(|g| g.name.clone())
                        .unwrap_or_else(|| "-".into()),
                    e.timeout_ms
                        .map(|t| {
                            humantime::format_duration(std::time::Duration::from_millis(t))
                                .to_string()
                        })
                        .unwrap_or_else(|| "-".into()),
                    e.retry.to_string(),
                    if e.idempotent { "yes" } else { "no" }.to_string(),
                    e.auth.as_ref().map_or_else(|| "-".into(), Auth::text),
                    args_text(e),
                ]
            })
            .collect();
        out.push_str(&crate::table::render(&header, &rows, "  "));
        for e in &s.endpoints {
            if !e.docs.is_empty() {
                let _ = writeln!(out, "  {}.{}: {}", s.name, e.name, one_line(&e.docs));
            }
        }
    }
    out
}

fn args_text(e: &Endpoint) -> String {
    let args: Vec<String> = e
        .sent_args()
        .map(|a| {
            let place = match a.source.as_str() {
                "path" => "path",
                "query" => "query",
                "body" => "body",
                _ => "field",
            };
            format!("{}: {} ({place})", a.name, tidy_type(&a.rust_type))
        })
        .collect();
    let ret = if e.returns.is_empty() {
        "()".to_string()
    } else {
        tidy_type(&e.returns)
    };
    format!("({}) -> {ret}", args.join(", "))
}

/// A type as the macro stringified it (`Option < bool >`), as written.
fn tidy_type(t: &str) -> String {
    let chars: Vec<char> = t.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if *c == ' ' {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
            let next = chars.get(i + 1).copied();
            if matches!(prev, Some('<' | ':' | '&' | '(' | '['))
                || matches!(next, Some('<' | '>' | ':' | ',' | ')' | ']'))
            {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

fn one_line(docs: &str) -> String {
    docs.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What `kit describe` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The endpoint table.
    Table,
    /// `/kit/describe` as it is (`--json`).
    Json,
    /// The `.proto` from reflection (`--proto`).
    Proto,
    /// `/openapi.json` (`--openapi`).
    OpenApi,
}

/// `kit describe TARGET [--proto | --json | --openapi]`.
pub async fn run(
    target: &str,
    format: Format,
    timeout: std::time::Duration,
) -> Result<std::process::ExitCode, Failure> {
    let instances = crate::target::resolve_one(target, timeout).await?;
    let base = instances
        .first()
        .map(|t| t.url.clone())
        .ok_or_else(|| Failure::new(format!("{target}: no instances")))?;
    let http = Http::new(timeout);
    match format {
        Format::Proto => print!("{}", proto_text(&http, &base, timeout).await?),
        Format::OpenApi => println!("{}", openapi_text(&http, &base).await?),
        Format::Json => {
            let (_, raw) = fetch(&http, &base).await?;
            let text = serde_json::to_string_pretty(&raw)
                .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
            println!("{text}");
        }
        Format::Table => {
            let (services, _) = fetch(&http, &base).await?;
            print!("{}", render(&base, &services));
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `GET /openapi.json` of `base`, pretty-printed.
async fn openapi_text(http: &Http, base: &str) -> Result<String, Failure> {
    let reply = http.get(base, "/openapi.json").await?;
    if !reply.status.is_success() {
        return Err(Failure::new(format!(
            "{base}: no OpenAPI document (GET /openapi.json answered {})",
            reply.status
        )));
    }
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|_| {
        Failure::new(format!(
            "{base}: no OpenAPI document (GET /openapi.json did not answer JSON)"
        ))
    })?;
    serde_json::to_string_pretty(&doc).map_err(|e| Failure::new(format!("cannot write JSON: {e}")))
}

/// The `.proto` of every gRPC service at `base`, from reflection, with
/// kit's doc comments when the server is a kit server.
async fn proto_text(
    http: &Http,
    base: &str,
    timeout: std::time::Duration,
) -> Result<String, Failure> {
    let kit = fetch(http, base).await.ok().map(|(s, _)| s);
    let mut docs = crate::proto::Docs::new();
    let names: Vec<String> = match &kit {
        Some(services) => {
            for s in services {
                let Some(g) = &s.grpc else { continue };
                docs.insert(g.full_name(), s.docs.clone());
                for e in &s.endpoints {
                    if let Some(m) = &e.grpc {
                        docs.insert(format!("{}.{}", g.full_name(), m.name), e.docs.clone());
                    }
                }
            }
            services
                .iter()
                .filter_map(|s| s.grpc.as_ref().map(|g| g.full_name()))
                .collect()
        }
        None => Vec::new(),
    };
    let channel = crate::grpc::connect(base, timeout, None).await?;
    let mut reflection = crate::grpc::Reflection::new(channel, base);
    let names = if kit.is_some() {
        names
    } else {
        reflection
            .services()
            .await?
            .into_iter()
            .filter(|s| !s.starts_with("grpc.reflection.") && !s.starts_with("grpc.health."))
            .collect()
    };
    if names.is_empty() {
        return Err(Failure::new(format!("{base}: serves no gRPC services")));
    }
    let mut files: Vec<String> = Vec::new();
    let mut out = String::new();
    for name in &names {
        let pool = reflection
            .pool_for(name)
            .await?
            .ok_or_else(|| Failure::new(format!("{base}: reflection does not know `{name}`")))?;
        let Some(service) = pool.get_service_by_name(name) else {
            continue;
        };
        let file = service.parent_file();
        if files.iter().any(|f| f == file.name()) {
            continue;
        }
        files.push(file.name().to_string());
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&crate::proto::render(&file, &docs));
    }
    Ok(out)
}
