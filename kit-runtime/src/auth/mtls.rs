//! Callers identified by the client certificate they presented.

use std::collections::HashMap;

use futures_util::future::BoxFuture;

use super::{AuthRequest, Authenticate, Principal, REALM};
use crate::Error;

/// Accepts a peer whose client certificate the server verified (mTLS,
/// `--tls-client-ca`): the principal's subject is the certificate's SPIFFE
/// ID, else its common name, else its subject. Grants are given per
/// subject with [`Mtls::grant`]. Registered as `mtls` on every server;
/// without a verified certificate it finds no caller.
///
/// ```
/// use kit_runtime::auth::Mtls;
/// let mtls = Mtls::new().grant("spiffe://example.org/billing", ["scope:orders:read"]);
/// ```
#[derive(Clone, Default)]
pub struct Mtls {
    grants: HashMap<String, Vec<String>>,
}

impl Mtls {
    /// Any verified certificate, with no grants.
    pub fn new() -> Mtls {
        Mtls::default()
    }

    /// The peer whose subject is `subject` holds `grants`.
    pub fn grant<'a>(mut self, subject: &str, grants: impl IntoIterator<Item = &'a str>) -> Mtls {
        self.grants
            .entry(subject.to_owned())
            .or_default()
            .extend(grants.into_iter().map(str::to_owned));
        self
    }
}

impl Authenticate for Mtls {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Principal>, Error>> {
        Box::pin(async move {
            let Some(peer) = request.peer_identity() else {
                return Ok(None);
            };
            let subject = peer
                .spiffe_id()
                .or_else(|| peer.common_name())
                .unwrap_or(&peer.subject)
                .to_owned();
            let grants = self.grants.get(&subject).into_iter().flatten();
            Ok(Some(
                Principal::new("mtls", subject.clone()).with_grants(grants.map(String::as_str)),
            ))
        })
    }

    fn challenge(&self) -> Option<String> {
        // No HTTP scheme asks for a certificate; this names what is missing.
        Some(format!("ClientCertificate realm=\"{REALM}\""))
    }
}
