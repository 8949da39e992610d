//! TLS on the server's listener: the rustls configuration made from
//! `--tls-cert`, `--tls-key`, `--tls-client-ca` and `--tls-client-auth`,
//! and the handshake each connection does before HTTP.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::reload::{read_certificates, ReloadingCert, POLL_INTERVAL};
use super::PeerIdentity;
use crate::config::Config;
use crate::metrics::SERVER_TLS_HANDSHAKE_ERRORS;
use crate::Error;

/// Whether a server with `--tls-client-ca` requires client certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientAuth {
    /// A client without a certificate fails the handshake (the default).
    #[default]
    Required,
    /// A client may present no certificate; one it presents must verify.
    /// Requests without one have no [`PeerIdentity`].
    Optional,
}

/// The ring provider, named explicitly: the process may link other
/// providers, and then rustls has no default.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server's TLS: the acceptor every connection handshakes with.
pub(crate) struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    /// Client certificates verified against `--tls-client-ca`.
    pub(crate) client_auth: Option<ClientAuth>,
    /// Keeps the reload task running for as long as the server lives.
    _cert: Arc<ReloadingCert>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// The TLS `config` asks for, `None` without `--tls-cert`; an error
    /// naming the file when one cannot be read or used. Starts polling the
    /// certificate files for changes (so it runs inside a Tokio runtime).
    pub(crate) fn from_config(config: &Config) -> Result<Option<Arc<ServerTls>>, Error> {
        let (cert, key) = match (&config.tls_cert, &config.tls_key) {
            (None, None) => {
                if config.tls_client_ca.is_some() {
                    return Err(Error::invalid_argument(
                        "--tls-client-ca needs --tls-cert and --tls-key: mTLS is TLS with client certificates",
                    ));
                }
                return Ok(None);
            }
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => {
                return Err(Error::invalid_argument(
                    "--tls-cert needs --tls-key (the certificate's private key)",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::invalid_argument(
                    "--tls-key needs --tls-cert (the certificate chain)",
                ))
            }
        };
        let provider = provider();
        let resolver = Arc::new(ReloadingCert::load(cert, key, provider.clone())?);
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS: {e}")))?;
        let (builder, client_auth) = match &config.tls_client_ca {
            None => (builder.with_no_client_auth(), None),
            Some(ca) => {
                let roots = root_store(ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier = match config.tls_client_auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                let verifier = verifier.build().map_err(|e| {
                    Error::invalid_argument(format!("TLS client CA {}: {e}", ca.display()))
                })?;
                (
                    builder.with_client_cert_verifier(verifier),
                    Some(config.tls_client_auth),
                )
            }
        };
        let mut server = builder.with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        resolver.watch(POLL_INTERVAL);
        Ok(Some(Arc::new(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            client_auth,
            _cert: resolver,
        })))
    }

    /// Handshakes on `tcp` within `timeout` (none when zero): the TLS
    /// stream and the identity of the client's verified certificate, if
    /// it presented one; `None` (counted and logged at DEBUG) when the
    /// handshake failed.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Option<(TlsStream<TcpStream>, Option<Arc<PeerIdentity>>)> {
        let accept = self.acceptor.accept(tcp);
        let result = if timeout.is_zero() {
            accept.await
        } else {
            match tokio::time::timeout(timeout, accept).await {
                Ok(result) => result,
                Err(_) => {
                    handshake_failed("timeout", "not done within the header timeout");
                    return None;
                }
            }
        };
        let stream = match result {
            Ok(stream) => stream,
            Err(e) => {
                handshake_failed(reason(&e), &e.to_string());
                return None;
            }
        };
        let identity = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|der| match PeerIdentity::from_der(der) {
                Ok(id) => Some(Arc::new(id)),
                Err(e) => {
                    // Verified by rustls, so this is a parser limit.
                    tracing::warn!(error = %e, "client certificate verified but not understood: no peer identity");
                    None
                }
            });
        Some((stream, identity))
    }
}

fn handshake_failed(reason: &'static str, error: &str) {
    metrics::counter!(SERVER_TLS_HANDSHAKE_ERRORS, "reason" => reason).increment(1);
    tracing::debug!(reason, error, "TLS handshake failed");
}

/// The metric label of a failed handshake.
fn reason(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::UnexpectedEof
        || e.kind() == std::io::ErrorKind::ConnectionReset
    {
        return "eof";
    }
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return "other";
    };
    use rustls::Error as E;
    match tls {
        E::NoCertificatesPresented => "no_client_cert",
        E::InvalidCertificate(_) => "bad_certificate",
        E::AlertReceived(_) => "peer_alert",
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::PeerMisbehaved(_)
        | E::PeerIncompatible(_)
        | E::DecryptError => "protocol",
        _ => "other",
    }
}

/// The CA certificates of a PEM bundle, as client-certificate roots.
fn root_store(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in read_certificates(path)? {
        roots.add(cert).map_err(|e| {
            Error::invalid_argument(format!("TLS client CA {}: {e}", path.display()))
        })?;
    }
    Ok(roots)
}
