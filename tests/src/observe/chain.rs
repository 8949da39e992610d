//! The first hop of a two-service chain: `relay` calls the example's
//! `uppercase` through its generated client, so one request makes a trace
//! across two processes (the `chainsvc` binary in front of `stringsvc`).

use stringsvc::StringServiceClient;

/// Relays strings to the string service.
pub struct Chain {
    upstream: StringServiceClient,
}

impl Chain {
    /// A chain calling the string service at `upstream` (`http://host:port`)
    /// over `transport`.
    pub fn new(upstream: &str, transport: kit::Transport) -> Result<Chain, kit::Error> {
        let upstream = StringServiceClient::builder()
            .transport(transport)
            .base_url(upstream)
            .build()?;
        Ok(Chain { upstream })
    }

    /// The chain `CHAIN_UPSTREAM` (the string service's URL) and
    /// `CHAIN_TRANSPORT` (`http`, the default, or `grpc`) describe.
    pub fn from_env() -> Result<Chain, kit::Error> {
        let upstream = std::env::var("CHAIN_UPSTREAM")
            .map_err(|_| kit::Error::invalid_argument("CHAIN_UPSTREAM is not set"))?;
        let transport = match std::env::var("CHAIN_TRANSPORT").as_deref() {
            Err(_) | Ok("http") => kit::Transport::Http,
            Ok("grpc") => kit::Transport::Grpc,
            Ok(other) => {
                return Err(kit::Error::invalid_argument(format!(
                    "CHAIN_TRANSPORT is http or grpc, not {other}"
                )))
            }
        };
        Chain::new(&upstream, transport)
    }
}

#[kit::service(name = "chain", package = "chain.v1")]
impl Chain {
    /// Uppercases `s` by asking the string service; its errors come back
    /// as they are.
    #[endpoint(http = "POST /relay", grpc)]
    pub async fn relay(&self, s: String) -> Result<String, kit::Error> {
        self.upstream.uppercase(s).await
    }
}
