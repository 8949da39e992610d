//! The OpenAPI document, checked by outside tools: openapi-spec-validator
//! validates what kit serves at `/openapi.json`, and schemathesis calls
//! the running example (the real `stringsvc` binary) and a service with
//! user types, path, query, `#[body]` and body-field arguments, from that
//! document, and finds no schema violation, no server error and no status
//! the document does not list. The example's document is checked in; a
//! change to it fails here until it is regenerated.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::Endpoints;
use kit_tests::observe::python;
use kit_tests::registry::TempDir;
use kit_tests::workspace_bin;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A thing in the catalog.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Item {
    /// What it is called.
    pub name: String,
    /// Its price in cents.
    pub price: u32,
    pub tags: Vec<String>,
    pub color: Option<Color>,
}

/// A colour, by name.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Color {
    Red,
    Green,
}

/// A type that derives no schema: described as `{}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
}

pub struct Catalog;

/// Keeps a catalog of items.
#[kit::service(name = "catalog")]
impl Catalog {
    /// Gets an item.
    ///
    /// Item 0 does not exist.
    #[endpoint(http = "GET /items/{id}")]
    pub async fn get(&self, id: u32, verbose: Option<bool>) -> Result<Item, kit::Error> {
        if id == 0 {
            return Err(kit::Error::not_found("no item 0"));
        }
        Ok(Item {
            name: format!(
                "item {id}{}",
                if verbose == Some(true) {
                    " (verbose)"
                } else {
                    ""
                }
            ),
            price: id,
            tags: Vec::new(),
            color: None,
        })
    }

    /// Lists the items with all of `tag`.
    #[endpoint(http = "GET /items")]
    pub async fn list(
        &self,
        tag: Vec<String>,
        color: Option<Color>,
        limit: Option<u32>,
    ) -> Vec<Item> {
        let n = limit.unwrap_or(2).min(3);
        (0..n)
            .map(|i| Item {
                name: format!("item {i}"),
                price: i,
                tags: tag.clone(),
                color,
            })
            .collect()
    }

    /// Stores an item.
    #[endpoint(http = "PUT /items/{id}")]
    pub async fn put(&self, id: u32, #[body] item: Item) -> Item {
        let _ = id;
        item
    }

    /// Renames an item.
    #[endpoint(http = "PATCH /items/{id}")]
    pub async fn rename(&self, id: u32, name: String, note: Option<String>) -> Item {
        Item {
            name: format!("{name}{}", note.unwrap_or_default()),
            price: id,
            tags: Vec::new(),
            color: Some(Color::Green),
        }
    }

    /// Removes an item.
    #[endpoint(http = "DELETE /items/{id}", rate = "1000/s")]
    pub async fn remove(&self, id: u32) {
        let _ = id;
    }

    /// Echoes a note.
    #[endpoint(http = "POST /notes")]
    pub async fn note(&self, #[body] note: Note) -> Note {
        note
    }
}

/// Runs `python ARGS` in `dir`, killed after `limit`; (success, stdout + stderr).
fn run_python(dir: &TempDir, args: &[&str], limit: Duration) -> (bool, String) {
    let out_path = dir.path().join("out.txt");
    let out = std::fs::File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("output file");
    let mut child = Command::new(python())
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("python runs");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("killed after {limit:?}:\n{text}")),
    }
}

/// openapi-spec-validator on `doc`.
fn validate(doc: &Value) {
    let dir = TempDir::new("openapi-validate");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let (ok, out) = run_python(
        &dir,
        &["-m", "openapi_spec_validator", file.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(ok && out.contains(": OK"), "openapi-spec-validator:\n{out}");
}

/// What one schemathesis run found.
#[derive(Debug)]
struct Fuzzed {
    operations: u32,
    cases: u32,
}

/// schemathesis against the server at `base`, from the document it serves.
fn schemathesis(base: &str, operations: u32) -> Fuzzed {
    let dir = TempDir::new("openapi-schemathesis");
    let (ok, out) = run_python(
        &dir,
        &[
            "-m",
            "schemathesis.cli",
            "run",
            &format!("{base}/openapi.json"),
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--mode",
            "positive",
            "--max-examples",
            "40",
            "--seed",
            "7",
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--no-color",
        ],
        Duration::from_secs(50),
    );
    assert!(ok, "schemathesis failed:\n{out}");
    // The summary says `Tested: N` and, under `Test cases:`, `N generated, N passed`.
    let tested = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `Tested:` in schemathesis' summary:\n{out}"));
    let cases_line = out
        .lines()
        .map(str::trim)
        .find(|l| l.contains(" generated, "))
        .unwrap_or_else(|| panic!("no test case count in schemathesis' summary:\n{out}"));
    let cases: u32 = cases_line
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no test case count in `{cases_line}`"));
    assert_eq!(
        cases_line,
        format!("{cases} generated, {cases} passed"),
        "schemathesis found failures:\n{out}"
    );
    let fuzzed = Fuzzed {
        operations: tested,
        cases,
    };
    assert_eq!(fuzzed.operations, operations, "{out}");
    eprintln!("schemathesis at {base}: {fuzzed:?}");
    fuzzed
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn checked_in() -> Value {
    serde_json::from_str(include_str!("../../examples/stringsvc/openapi.json"))
        .expect("examples/stringsvc/openapi.json is JSON")
}

#[test]
fn the_generated_openapi_matches_the_checked_in_file() {
    let generated = kit::openapi::document(&[<stringsvc::StringService as Endpoints>::DESCRIPTOR]);
    assert_eq!(
        generated,
        checked_in(),
        "the HTTP API changed: if on purpose, regenerate with `cargo run -p stringsvc -- --emit-openapi > examples/stringsvc/openapi.json`"
    );
    // --emit-openapi prints the same document.
    let out = Command::new(workspace_bin("stringsvc"))
        .arg("--emit-openapi")
        .output()
        .expect("stringsvc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--emit-openapi prints JSON");
    assert_eq!(printed, checked_in());
}

#[tokio::test(flavor = "multi_thread")]
async fn stringsvc_serves_a_valid_document_that_schemathesis_finds_true() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(workspace_bin("stringsvc"))
        .args(["--http-addr", &addr, "--access-log", "off"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stringsvc");
    let stderr = child.stderr.take().unwrap();
    let _svc = Kill(child);
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("strings.count") {
            break;
        }
    }
    let served = kit_tests::raw(addr.parse().unwrap(), "GET", "/openapi.json", &[], "").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "application/json");
    let doc = served.json();
    assert_eq!(doc, checked_in());
    // The streaming endpoint answers SSE or NDJSON, and its handler's
    // errors are events of the stream, not statuses.
    let letters = &doc["paths"]["/letters/{s}"]["get"]["responses"];
    let content = letters["200"]["content"].as_object().unwrap();
    assert!(
        content.contains_key("text/event-stream") && content.contains_key("application/x-ndjson")
    );
    assert_eq!(
        content["text/event-stream"]["x-kit-item-schema"]["type"],
        "string"
    );
    assert!(letters.get("404").is_none(), "{letters}");
    let base = format!("http://{addr}");
    tokio::task::spawn_blocking(move || {
        validate(&doc);
        let fuzzed = schemathesis(&base, 3);
        assert!(fuzzed.cases >= 60, "{fuzzed:?}");
    })
    .await
    .unwrap();
}

fn catalog_document() -> Value {
    kit::openapi::document(&[Catalog::DESCRIPTOR])
}

#[test]
fn the_document_describes_user_types_and_every_argument_source() {
    let doc = catalog_document();
    assert_eq!(doc["info"]["title"], "catalog");
    assert_eq!(doc["info"]["description"], "Keeps a catalog of items.");
    let get = &doc["paths"]["/items/{id}"]["get"];
    assert_eq!(get["operationId"], "catalog.get");
    assert_eq!(get["summary"], "Gets an item.");
    assert_eq!(
        get["description"],
        "Gets an item.\n\nItem 0 does not exist."
    );
    assert_eq!(
        get["parameters"],
        json!([
            {"name": "id", "in": "path", "required": true,
             "schema": {"type": "integer", "format": "uint32", "minimum": 0}},
            {"name": "verbose", "in": "query", "required": false, "schema": {"type": "boolean"}}
        ])
    );
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"],
        json!({"$ref": "#/components/schemas/Item"})
    );
    // The handler returns a Result: every canonical status, 404 included.
    assert!(get["responses"]["404"].is_object());

    let list = &doc["paths"]["/items"]["get"];
    assert_eq!(
        list["parameters"],
        json!([
            {"name": "tag", "in": "query", "required": false,
             "schema": {"type": "array", "items": {"type": "string"}}},
            {"name": "color", "in": "query", "required": false,
             "schema": {"$ref": "#/components/schemas/Color"}},
            {"name": "limit", "in": "query", "required": false,
             "schema": {"type": "integer", "format": "uint32", "minimum": 0}}
        ])
    );
    assert!(list.get("requestBody").is_none());
    // Infallible, no body: only what the server stack answers.
    let statuses: Vec<&String> = list["responses"].as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "400", "500", "503", "504"]);

    let put = &doc["paths"]["/items/{id}"]["put"];
    assert_eq!(
        put["requestBody"],
        json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}})
    );
    let statuses: Vec<&String> = put["responses"].as_object().unwrap().keys().collect();
    assert_eq!(
        statuses,
        ["200", "400", "408", "413", "415", "500", "503", "504"]
    );

    let rename = &doc["paths"]["/items/{id}"]["patch"];
    assert_eq!(
        rename["requestBody"]["content"]["application/json"]["schema"],
        json!({"type": "object",
               "properties": {"name": {"type": "string"}, "note": {"type": ["string", "null"]}},
               "required": ["name"]})
    );

    let remove = &doc["paths"]["/items/{id}"]["delete"];
    assert!(remove["responses"]["204"].is_object());
    assert!(remove["responses"].get("200").is_none());
    assert!(remove["responses"]["429"].is_object(), "rate-limited");

    let note = &doc["paths"]["/notes"]["post"];
    assert_eq!(
        note["requestBody"]["content"]["application/json"]["schema"],
        json!({})
    );

    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Item"]["properties"]["name"]["description"],
        "What it is called."
    );
    assert_eq!(
        schemas["Item"]["required"],
        json!(["name", "price", "tags"])
    );
    assert_eq!(schemas["Color"]["enum"], json!(["red", "green"]));
    assert_eq!(schemas["Color"]["description"], "A colour, by name.");
    assert!(schemas["kit.Error"].is_object());
    assert!(schemas.get("Note").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_passes_the_validator_and_schemathesis() {
    let server = kit_tests::start(kit::Server::default().add_service(Catalog)).await;
    let served = kit_tests::raw(server.addr, "GET", "/openapi.json", &[], "").await;
    assert_eq!(served.json(), catalog_document());
    let base = server.url();
    let doc = served.json();
    tokio::task::spawn_blocking(move || {
        validate(&doc);
        schemathesis(&base, 6);
    })
    .await
    .unwrap();
}

/// The guarded test service: security schemes, per-operation security,
/// 401/403 documented; valid for the validator, and schemathesis without
/// credentials finds every answer (401s included) documented.
#[tokio::test]
async fn guarded_endpoints_declare_their_security() {
    use kit_tests::auth::Vault;
    let doc = kit::openapi::document(&[Vault::DESCRIPTOR]);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["jwt"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["mtls"]["type"], "mutualTLS");
    let whoami = &doc["paths"]["/whoami"]["get"];
    assert_eq!(
        whoami["security"],
        serde_json::json!([{"jwt": []}, {"api_key": []}])
    );
    assert!(whoami["responses"]["401"].is_object());
    assert!(whoami["responses"]["403"].is_null());
    let store = &doc["paths"]["/secrets"]["post"];
    assert!(store["responses"]["403"].is_object());
    assert_eq!(
        store["x-kit-requires"],
        serde_json::json!(["scope:secrets:write"])
    );
    assert!(doc["paths"]["/version"]["get"]["security"].is_null());
    validate(&doc);

    let server = kit_tests::start(
        kit::Server::default()
            .add_service(Vault::default())
            .authenticator("jwt", kit::auth::Jwt::hs256(kit_tests::auth::creds::SECRET))
            .authenticator("api_key", kit::auth::ApiKeys::new())
            .authenticator("basic", kit::auth::BasicAuth::new()),
    )
    .await;
    let url = server.url();
    let fuzzed = tokio::task::spawn_blocking(move || schemathesis(&url, 7))
        .await
        .unwrap();
    assert!(fuzzed.cases > 7, "{fuzzed:?}");
}
