//! The first hop of a two-service chain: `relay` calls the example's
//! `uppercase` through its generated client, so one request makes a trace
//! across two processes (the `chainsvc` binary in front of `stringsvc`);
//! `fail` answers INTERNAL.

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
    /// as they are. Records the business event `relayed` (`chars`: the
    /// characters relayed) when it succeeds.
    #[endpoint(http = "POST /relay", grpc)]
    pub async fn relay(&self, s: String) -> Result<String, kit::Error> {
        let chars = s.chars().count() as u64;
        let upper = self.upstream.uppercase(s).await?;
        kit::event!("relayed", chars);
        Ok(upper)
    }

    /// Fails with INTERNAL, as a handler with a bug does.
    #[endpoint(http = "POST /fail", grpc)]
    pub async fn fail(&self, s: String) -> Result<String, kit::Error> {
        Err(kit::Error::internal(format!("failed on purpose: {s}")))
    }
}
