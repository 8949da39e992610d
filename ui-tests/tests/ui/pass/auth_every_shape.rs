//! Every way to say who may call.

use kit::Stream;

#[derive(Default)]
pub struct Svc;

#[kit::service(auth = "jwt | api_key", requires = "scope:read")]
impl Svc {
    /// Service defaults: jwt or api_key, holding scope:read.
    #[endpoint(http = "GET /a", grpc)]
    async fn a(&self) -> String {
        let ctx = kit::Context::current();
        ctx.principal().map(|p| p.subject().to_owned()).unwrap_or_default()
    }

    /// Another authenticator and more requirements.
    #[endpoint(http = "POST /b", grpc, auth = "basic | mtls", requires = "scope:write role:admin")]
    async fn b(&self, x: u32) -> u32 {
        x
    }

    /// A user's own authenticator.
    #[endpoint(grpc, auth = "badge-reader")]
    async fn c(&self) -> u32 {
        1
    }

    /// Streams are guarded before they start.
    #[endpoint(http = "GET /d/{n}", grpc)]
    async fn d(&self, n: u32) -> impl Stream<Item = u32> {
        kit::stream::iter(0..n)
    }

    /// Anyone.
    #[endpoint(http = "GET /e", public)]
    async fn e(&self) -> u32 {
        1
    }
}

fn main() {
    use kit::client::credentials::{Bearer, Forward};
    let d = &<Svc as kit::Endpoints>::DESCRIPTOR;
    let auth = |name: &str| d.endpoint(name).and_then(|e| e.auth);
    assert_eq!(auth("a").map(|p| p.schemes), Some(&["jwt", "api_key"][..]));
    assert_eq!(auth("a").map(|p| p.requires), Some(&["scope:read"][..]));
    assert_eq!(auth("b").map(|p| p.requires), Some(&["scope:write", "role:admin"][..]));
    assert_eq!(auth("c").map(|p| p.schemes), Some(&["badge-reader"][..]));
    assert!(auth("e").is_none());
    let _ = SvcClient::builder().credentials(Forward::caller());
    let _ = |c: SvcClient| c.with_credentials(Bearer::new("t"));
}
