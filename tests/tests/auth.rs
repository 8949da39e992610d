//! Authentication and authorization over real sockets: 401 with
//! `WWW-Authenticate` and 403 on both transports, JWT checks, a JWKS that
//! rotates, API keys, HTTP basic, guarded streams, forwarding the caller's
//! token, `/metrics` behind credentials, and no secret in any log line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kit::auth::{hash_password, ApiKeys, BasicAuth, Jwt};
use kit::client::credentials::{ApiKey, Basic, Bearer};
use kit::{Code, Server, Transport};
use kit_tests::auth::creds::{self, claims, hs256, SigningKey, SECRET};
use kit_tests::auth::{Vault, VaultClient};
use kit_tests::{raw, start, Running};
use serde_json::json;

const READER_KEY: &str = "reader-key-7f3a9c";
const ADMIN_PASSWORD: &str = "correct horse battery";

fn server() -> Server {
    let vault = Vault::default();
    Server::default()
        .add_service(vault)
        .authenticator(
            "jwt",
            Jwt::hs256(SECRET).issuer("kit-tests").audience("vault"),
        )
        .authenticator(
            "api_key",
            ApiKeys::new().key("reader", READER_KEY, ["scope:secrets:read"]),
        )
        .authenticator(
            "basic",
            BasicAuth::new()
                .user("root", &hash_password(ADMIN_PASSWORD), ["role:admin"])
                .unwrap()
                .user("guest", &hash_password("guest"), [])
                .unwrap(),
        )
}

async fn serve() -> Running {
    start(server()).await
}

fn client(server: &Running, transport: Transport) -> VaultClient {
    VaultClient::builder()
        .base_url(server.url())
        .transport(transport)
        .build()
        .unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET path` with `token` as a bearer token, as a non-kit client sends it.
async fn get_with(server: &Running, path: &str, token: &str) -> kit_tests::Raw {
    raw(
        server.addr,
        "GET",
        path,
        &[("authorization", &bearer(token))],
        "",
    )
    .await
}

#[tokio::test]
async fn no_credentials_is_401_with_a_challenge_on_both_transports() {
    let server = serve().await;
    let r = raw(server.addr, "GET", "/whoami", &[], "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_status(), "UNAUTHENTICATED");
    assert_eq!(r.error_message(), "credentials required: jwt or api_key");
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("Bearer realm=\"kit\""), "{challenge}");
    assert!(
        challenge.contains("ApiKey realm=\"kit\", header=\"x-api-key\""),
        "{challenge}"
    );
    // Basic guards `admin` only.
    let r = raw(server.addr, "GET", "/admin", &[], "").await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm=\"kit\""));

    for transport in [Transport::Http, Transport::Grpc] {
        let e = client(&server, transport).whoami().await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{transport:?}: {e}");
        // Public endpoints and the health check need nothing.
        assert_eq!(client(&server, transport).version().await.unwrap(), "1");
    }
    let grpc = raw_grpc_status(server.addr, "/vault.v1.Vault/Whoami", None).await;
    assert_eq!(
        grpc.0.as_deref(),
        Some("16"),
        "grpc-status of an unauthenticated call"
    );
    assert!(
        grpc.1.is_some_and(|c| c.contains("Bearer")),
        "gRPC answers carry the challenge too"
    );
    assert_eq!(
        raw(server.addr, "GET", "/health", &[], "").await.status,
        200
    );
}

/// The `grpc-status` and `www-authenticate` of a raw gRPC call (an empty
/// message), as a non-kit peer sees them.
async fn raw_grpc_status(
    addr: SocketAddr,
    path: &str,
    authorization: Option<&str>,
) -> (Option<String>, Option<String>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut h2, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let (response, mut send) = h2.send_request(req.body(()).unwrap(), false).unwrap();
    send.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let response = response.await.unwrap();
    let headers = response.headers().clone();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        chunk.unwrap();
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    let get = |name: &str| {
        headers
            .get(name)
            .or_else(|| trailers.get(name))
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (get("grpc-status"), get("www-authenticate"))
}

#[tokio::test]
async fn tokens_name_the_caller_and_scopes_decide_on_both_transports() {
    let server = serve().await;
    let reader = hs256(&claims(
        "ana",
        "secrets:read",
        json!({"roles": ["auditor"]}),
    ));
    let writer = hs256(&claims("bo", "secrets:read secrets:write", json!({})));
    for transport in [Transport::Http, Transport::Grpc] {
        let c = client(&server, transport);
        let who = c
            .with_credentials(Bearer::new(&reader))
            .whoami()
            .await
            .unwrap();
        assert_eq!(who.scheme, "jwt");
        assert_eq!(who.subject, "ana");
        assert_eq!(who.scopes, ["secrets:read"]);
        assert_eq!(who.roles, ["auditor"]);
        let e = c
            .with_credentials(Bearer::new(&reader))
            .store("x")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{transport:?}");
        assert_eq!(e.message(), "the caller lacks scope:secrets:write");
        let ok = c.with_credentials(Bearer::new(&writer)).store("x").await;
        assert_eq!(ok.unwrap(), "stored x");
        // A client built with credentials sends them on every call.
        let built = VaultClient::builder()
            .base_url(server.url())
            .transport(transport)
            .credentials(Bearer::new(&writer))
            .build()
            .unwrap();
        assert_eq!(built.whoami().await.unwrap().subject, "bo");
    }
    let r = raw(
        server.addr,
        "POST",
        "/secrets",
        &[
            ("authorization", &bearer(&reader)),
            ("content-type", "application/json"),
        ],
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_status(), "PERMISSION_DENIED");
    assert!(!r.headers.contains_key("www-authenticate"));
    let grpc = raw_grpc_status(server.addr, "/vault.v1.Vault/Store", Some(&bearer(&reader))).await;
    assert_eq!(grpc.0.as_deref(), Some("7"));
}

#[tokio::test]
async fn bad_tokens_are_refused_each_with_its_reason() {
    let server = serve().await;
    let now = creds::now();
    let cases = [
        (
            hs256(&claims("u", "", json!({"exp": now - 300}))),
            "token expired",
        ),
        (
            hs256(&claims("u", "", json!({"nbf": now + 300}))),
            "token not valid yet",
        ),
        (
            hs256(&claims("u", "", json!({"iss": "evil"}))),
            "token from another issuer",
        ),
        (
            hs256(&claims("u", "", json!({"aud": "other"}))),
            "token for another audience",
        ),
        (
            SigningKey::es256("k").sign(&claims("u", "", json!({}))),
            "token algorithm not accepted",
        ),
        ("not.a.token".to_owned(), "malformed bearer token"),
        (
            // alg none, same payload shape
            format!(
                "eyJhbGciOiJub25lIn0.{}.",
                creds::b64url(claims("u", "", json!({})).to_string().as_bytes())
            ),
            "malformed bearer token",
        ),
    ];
    for (token, reason) in &cases {
        let r = get_with(&server, "/whoami", token).await;
        assert_eq!(r.status, 401, "{reason}");
        assert_eq!(&r.error_message(), reason);
        assert!(
            !r.body
                .windows(token.len().min(20))
                .any(|w| w == &token.as_bytes()[..token.len().min(20)]),
            "the token came back"
        );
    }
    // A forged signature.
    let good = hs256(&claims("u", "", json!({})));
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", creds::b64url(&[7u8; 32]));
    let r = get_with(&server, "/whoami", &forged).await;
    assert_eq!(r.error_message(), "token signature does not verify");
    // Within the 60 s leeway an expired token still passes.
    let late = hs256(&claims("u", "", json!({"exp": now - 20})));
    let r = get_with(&server, "/whoami", &late).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn api_keys_and_basic_users_with_their_grants() {
    let server = serve().await;
    for transport in [Transport::Http, Transport::Grpc] {
        let c = client(&server, transport);
        let who = c
            .with_credentials(ApiKey::new(READER_KEY))
            .whoami()
            .await
            .unwrap();
        assert_eq!(
            (who.scheme.as_str(), who.subject.as_str()),
            ("api_key", "reader")
        );
        let e = c
            .with_credentials(ApiKey::new("guess"))
            .whoami()
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (Code::Unauthenticated, "unknown API key")
        );
        let e = c
            .with_credentials(ApiKey::new(READER_KEY))
            .store("x")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);

        let admin = c
            .with_credentials(Basic::new("root", ADMIN_PASSWORD))
            .admin()
            .await
            .unwrap();
        assert_eq!(
            (admin.scheme.as_str(), admin.roles.clone()),
            ("basic", vec!["admin".to_owned()])
        );
        let e = c
            .with_credentials(Basic::new("guest", "guest"))
            .admin()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        for (user, pw) in [("root", "wrong"), ("nobody", ADMIN_PASSWORD)] {
            let e = c
                .with_credentials(Basic::new(user, pw))
                .admin()
                .await
                .unwrap_err();
            assert_eq!(
                (e.code(), e.message()),
                (Code::Unauthenticated, "wrong user name or password")
            );
        }
        // Basic is not one of `whoami`'s authenticators.
        let e = c
            .with_credentials(Basic::new("root", ADMIN_PASSWORD))
            .whoami()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn streams_are_guarded_before_they_start() {
    let server = serve().await;
    let r = raw(server.addr, "GET", "/count/3", &[], "").await;
    assert_eq!(r.status, 401);
    let token = hs256(&claims("s", "", json!({})));
    let r = get_with(&server, "/count/3", &token).await;
    assert_eq!(
        &r.body[..],
        b"{\"result\":0}\n{\"result\":1}\n{\"result\":2}\n"
    );
    for transport in [Transport::Http, Transport::Grpc] {
        let e = client(&server, transport).count(3).await.err().unwrap();
        assert_eq!(e.code(), Code::Unauthenticated, "{transport:?}");
        let items: Vec<u32> = client(&server, transport)
            .with_credentials(Bearer::new(&token))
            .count(3)
            .await
            .unwrap()
            .map(|i| i.unwrap())
            .collect()
            .await;
        assert_eq!(items, [0, 1, 2], "{transport:?}");
    }
}

#[tokio::test]
async fn a_service_forwards_its_callers_token_to_the_next_hop() {
    let vault = Vault::default();
    let relay_to = vault.relay_to.clone();
    let server = start(
        Server::default()
            .add_service(vault)
            .authenticator("jwt", Jwt::hs256(SECRET))
            .authenticator("api_key", ApiKeys::new())
            .authenticator("basic", BasicAuth::new()),
    )
    .await;
    relay_to.set(server.url()).unwrap();
    let token = hs256(&claims("carol", "a b", json!({})));
    for transport in [Transport::Http, Transport::Grpc] {
        let seen = client(&server, transport)
            .with_credentials(Bearer::new(&token))
            .relay()
            .await
            .unwrap();
        assert_eq!(seen.subject, "carol", "{transport:?}");
        assert_eq!(seen.scopes, ["a", "b"]);
    }
}

#[tokio::test]
async fn a_server_missing_an_authenticator_refuses_to_start() {
    let e = Server::default()
        .add_service(Vault::default())
        .http_addr(([127, 0, 0, 1], 0).into())
        .bind()
        .await
        .err()
        .expect("started without a jwt authenticator");
    assert!(
        e.message()
            .contains("vault.whoami needs authenticator `jwt`"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("--jwt-secret-file"), "{}", e.message());
}

/// A JWKS document served over HTTP that the test can change.
struct JwksServer {
    url: String,
    document: Arc<Mutex<serde_json::Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks_server(keys: &[&SigningKey]) -> JwksServer {
    let document = Arc::new(Mutex::new(
        json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
    ));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (doc, count) = (document.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let (doc, count) = (doc.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let body = doc.lock().unwrap().to_string();
                ([("content-type", "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer {
        url: format!("http://{addr}/.well-known/jwks.json"),
        document,
        fetches,
    }
}

#[tokio::test]
async fn jwks_keys_are_cached_and_rotation_is_picked_up() {
    let first = SigningKey::es256("ec-1");
    let second = SigningKey::rs256("rsa-2");
    let jwks = jwks_server(&[&first]).await;
    let jwt = Jwt::jwks(&jwks.url)
        .unwrap()
        .issuer("kit-tests")
        .audience("vault")
        .jwks_refresh(Duration::from_secs(300), Duration::from_millis(300));
    let server = start(
        Server::default()
            .add_service(Vault::default())
            .authenticator("jwt", jwt)
            .authenticator("api_key", ApiKeys::new())
            .authenticator("basic", BasicAuth::new()),
    )
    .await;
    let c = client(&server, Transport::Grpc);
    let call = |token: String| {
        let c = c.clone();
        async move { c.with_credentials(Bearer::new(token)).whoami().await }
    };
    for _ in 0..20 {
        assert_eq!(
            call(first.sign(&claims("ec", "", json!({}))))
                .await
                .unwrap()
                .subject,
            "ec"
        );
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // A token from a key the document does not have yet: refused, and a
    // burst of them fetches at most once per interval.
    let rotated = second.sign(&claims("rsa", "", json!({})));
    for _ in 0..20 {
        let e = call(rotated.clone()).await.unwrap_err();
        assert_eq!(e.message(), "token signed by an unknown key");
    }
    assert!(
        jwks.fetches.load(Ordering::SeqCst) <= 2,
        "{} fetches",
        jwks.fetches.load(Ordering::SeqCst)
    );

    *jwks.document.lock().unwrap() = json!({"keys": [first.jwk.clone(), second.jwk.clone()]});
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(call(rotated.clone()).await.unwrap().subject, "rsa");
    // Both keys now verify, without a restart.
    assert_eq!(
        call(first.sign(&claims("ec", "", json!({}))))
            .await
            .unwrap()
            .subject,
        "ec"
    );
    // A wrong algorithm for the kid's key is refused.
    // (a token naming the EC key's kid, signed with RSA)
    let e = call(SigningKey::rs256("ec-1").sign(&claims("x", "", json!({}))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn jwks_that_cannot_be_fetched_is_unavailable_not_a_pass() {
    let port = kit_tests::registry::free_port();
    let jwt = Jwt::jwks(&format!("http://127.0.0.1:{port}/jwks")).unwrap();
    let server = start(
        Server::default()
            .add_service(Vault::default())
            .authenticator("jwt", jwt)
            .authenticator("api_key", ApiKeys::new())
            .authenticator("basic", BasicAuth::new()),
    )
    .await;
    let token = SigningKey::es256("k").sign(&claims("u", "", json!({})));
    let r = get_with(&server, "/whoami", &token).await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.error_status(), "UNAVAILABLE");
}

#[tokio::test]
async fn public_key_files_verify_rs256_and_es256_tokens() {
    let dir = kit_tests::registry::TempDir::new("jwt-keys");
    for key in [SigningKey::es256("e"), SigningKey::rs256("r")] {
        let file = dir.path().join(format!("{}.pem", key.kid));
        std::fs::write(&file, key.public_pem()).unwrap();
        let config = kit::Config {
            auth: kit::config::AuthConfig {
                jwt_public_key_file: Some(file),
                jwt_issuer: Some("kit-tests".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let server = start(
            Server::new(config)
                .add_service(Vault::default())
                .authenticator("api_key", ApiKeys::new())
                .authenticator("basic", BasicAuth::new()),
        )
        .await;
        let c = client(&server, Transport::Grpc);
        let who = c
            .with_credentials(Bearer::new(key.sign(&claims("k", "", json!({})))))
            .whoami()
            .await
            .unwrap();
        assert_eq!(who.subject, "k", "{:?}", key.algorithm);
        // An HS256 token made with the public key as its secret (the
        // classic algorithm confusion) is refused.
        let confused = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims("x", "", json!({})),
            &jsonwebtoken::EncodingKey::from_secret(key.public_pem().as_bytes()),
        )
        .unwrap();
        let e = c
            .with_credentials(Bearer::new(confused))
            .whoami()
            .await
            .unwrap_err();
        assert_eq!(e.message(), "token algorithm not accepted");
    }
}

/// An authenticator of the user's own, named in `auth = "badge"`.
struct Badge;

impl kit::auth::Authenticate for Badge {
    fn authenticate<'a>(
        &'a self,
        request: &'a kit::auth::AuthRequest<'a>,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<kit::auth::Principal>, kit::Error>> {
        Box::pin(async move {
            match request.header("x-badge") {
                Some("7") => Ok(Some(
                    kit::auth::Principal::new("badge", "guard-7").with_roles(["guard"]),
                )),
                Some(_) => Err(kit::Error::new(Code::Unauthenticated, "unknown badge")),
                None => Ok(None),
            }
        })
    }

    fn challenge(&self) -> Option<String> {
        Some("Badge realm=\"lobby\"".into())
    }
}

#[derive(Default)]
struct Lobby;

#[kit::service(auth = "badge")]
impl Lobby {
    #[endpoint(http = "GET /door", grpc, requires = "role:guard")]
    async fn door(&self) -> String {
        kit::Context::current()
            .principal()
            .map(|p| p.subject().to_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn a_users_own_authenticator_guards_by_name() {
    let server = start(
        Server::default()
            .add_service(Lobby)
            .authenticator("badge", Badge),
    )
    .await;
    let r = raw(server.addr, "GET", "/door", &[], "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], "Badge realm=\"lobby\"");
    let r = raw(server.addr, "GET", "/door", &[("x-badge", "3")], "").await;
    assert_eq!(
        (r.status.as_u16(), r.error_message()),
        (401, "unknown badge".to_owned())
    );
    let r = raw(server.addr, "GET", "/door", &[("x-badge", "7")], "").await;
    assert_eq!(r.json(), "guard-7");
    let grpc = LobbyClient::builder()
        .base_url(server.url())
        .transport(Transport::Grpc)
        .build()
        .unwrap()
        .with_header("x-badge", "7");
    assert_eq!(grpc.door().await.unwrap(), "guard-7");
}

/// `auth = "mtls"`: the verified client certificate is the caller (its
/// SPIFFE ID), on both transports; a caller without one gets 401 (the
/// server's client certificates are optional here, so the TLS handshake
/// itself lets it in); grants come from `Mtls::grant`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_authenticates_with_mtls() {
    use kit::auth::Mtls;
    use kit::tls::{ClientAuth, ClientTls};
    use kit_tests::tls::Pki;
    let pki = Pki::new("auth-mtls");
    let server = start(
        server()
            .tls(pki.path("server.pem"), pki.path("server.key"))
            .tls_client_ca(pki.path("ca.pem"))
            .tls_client_auth(ClientAuth::Optional)
            .authenticator(
                "mtls",
                Mtls::new().grant("spiffe://kit.test/ns/prod/sa/orders", ["role:service"]),
            ),
    )
    .await;
    let url = format!("https://localhost:{}", server.addr.port());
    let ca = || ClientTls::new().ca_file(pki.path("ca.pem"));
    for transport in [Transport::Http, Transport::Grpc] {
        let with_cert = VaultClient::builder()
            .base_url(&url)
            .transport(transport)
            .tls(ca().identity_files(pki.path("client.pem"), pki.path("client.key")))
            .build()
            .unwrap();
        let peer = with_cert.peer().await.unwrap();
        assert_eq!(peer.scheme, "mtls", "{transport:?}");
        assert_eq!(peer.subject, "spiffe://kit.test/ns/prod/sa/orders");
        assert_eq!(peer.roles, ["service"]);
        // A certificate is not a token: `whoami` wants jwt or api_key.
        let e = with_cert.whoami().await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let without = VaultClient::builder()
            .base_url(&url)
            .transport(transport)
            .tls(ca())
            .build()
            .unwrap();
        let e = without.peer().await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{transport:?}");
        assert_eq!(e.message(), "credentials required: mtls");
    }
}

#[derive(Default)]
struct KeyServer {
    document: serde_json::Value,
}

#[kit::service]
impl KeyServer {
    #[endpoint(http = "GET /jwks")]
    async fn jwks(&self) -> serde_json::Value {
        self.document.clone()
    }
}

/// A JWKS fetched over https:// from a server whose CA the flags name
/// (`--jwt-jwks-ca`), and refused from one the client cannot verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_over_https_trusts_the_ca_it_is_given() {
    use kit_tests::tls::Pki;
    let pki = Pki::new("auth-jwks");
    let key = SigningKey::es256("tls-1");
    let keys = start(
        Server::default()
            .tls(pki.path("server.pem"), pki.path("server.key"))
            .add_service(KeyServer {
                document: json!({"keys": [key.jwk.clone()]}),
            }),
    )
    .await;
    let jwks_url = format!("https://localhost:{}/jwks", keys.addr.port());
    let guarded = |ca: &str| {
        let config = kit::Config {
            auth: kit::config::AuthConfig {
                jwt_jwks_url: Some(jwks_url.clone()),
                jwt_jwks_ca: Some(pki.path(ca)),
                ..Default::default()
            },
            ..Default::default()
        };
        Server::new(config)
            .add_service(Vault::default())
            .authenticator("api_key", ApiKeys::new())
            .authenticator("basic", BasicAuth::new())
    };
    let token = key.sign(&claims("tls", "", json!({})));
    let trusted = start(guarded("ca.pem")).await;
    let who = client(&trusted, Transport::Http)
        .with_credentials(Bearer::new(&token))
        .whoami()
        .await
        .unwrap();
    assert_eq!(who.subject, "tls");
    let untrusted = start(guarded("other-ca.pem")).await;
    let e = client(&untrusted, Transport::Http)
        .with_credentials(Bearer::new(&token))
        .whoami()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e}");
}
