//! TLS in clients: which servers to trust, which certificate to present,
//! and the connector both transports dial through.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;

use super::reload::{certificates_from_pem, key_from_pem};
use super::server::provider;
use crate::Error;

/// How a client speaks TLS: the CA certificates it trusts (the system's
/// by default), the certificate it presents for mTLS, and the name it
/// expects on the server's certificate (the URL's host by default). Give
/// it to [`ClientBuilder::tls`](crate::ClientBuilder::tls); both
/// transports use it.
///
/// ```
/// use kit_runtime::tls::ClientTls;
/// let tls = ClientTls::new()
///     .ca_file("/etc/kit/ca.pem")                     // trust this CA only
///     .identity_files("/etc/kit/client.pem", "/etc/kit/client.key") // mTLS
///     .server_name("strings.internal");               // expect this name
/// # let _ = tls;
/// ```
///
/// Files are read when the client is built; a missing or bad one fails
/// [`build`](crate::ClientBuilder::build) with its name.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    roots: Vec<Source>,
    identity: Option<(Source, Source)>,
    server_name: Option<String>,
}

/// PEM text, or a file holding it.
#[derive(Clone)]
enum Source {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never the text: it may be a private key.
            Source::Pem(_) => f.write_str("Pem(..)"),
            Source::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

impl Source {
    fn read(&self, what: &str) -> Result<(Vec<u8>, String), Error> {
        match self {
            Source::Pem(pem) => Ok((pem.clone(), format!("the {what} PEM"))),
            Source::File(path) => std::fs::read(path)
                .map(|pem| (pem, path.display().to_string()))
                .map_err(|e| {
                    Error::invalid_argument(format!(
                        "cannot read TLS {what} {}: {e}",
                        path.display()
                    ))
                }),
        }
    }
}

impl ClientTls {
    /// TLS trusting the system's CA certificates, presenting none.
    pub fn new() -> ClientTls {
        ClientTls::default()
    }

    /// Trusts the CA certificates of this PEM text (instead of the
    /// system's; call again to add more).
    pub fn ca_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> ClientTls {
        self.roots.push(Source::Pem(pem.as_ref().to_vec()));
        self
    }

    /// Trusts the CA certificates of this PEM file (instead of the
    /// system's; call again to add more).
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> ClientTls {
        self.roots.push(Source::File(path.as_ref().to_path_buf()));
        self
    }

    /// Presents this certificate chain and private key (PEM) to servers
    /// that ask for one (mTLS).
    pub fn identity_pem(mut self, cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> ClientTls {
        self.identity = Some((
            Source::Pem(cert.as_ref().to_vec()),
            Source::Pem(key.as_ref().to_vec()),
        ));
        self
    }

    /// Presents the certificate chain and private key of these PEM files
    /// to servers that ask for one (mTLS).
    pub fn identity_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> ClientTls {
        self.identity = Some((
            Source::File(cert.as_ref().to_path_buf()),
            Source::File(key.as_ref().to_path_buf()),
        ));
        self
    }

    /// Expects this name on every server's certificate (and sends it as
    /// SNI), instead of the host of the URL dialed: for servers reached by
    /// IP address or through a name their certificate does not carry.
    pub fn server_name(mut self, name: impl Into<String>) -> ClientTls {
        self.server_name = Some(name.into());
        self
    }

    /// The rustls configuration (without ALPN: the connector sets it).
    fn client_config(&self) -> Result<rustls::ClientConfig, Error> {
        let roots = if self.roots.is_empty() {
            system_roots()?
        } else {
            let mut roots = RootCertStore::empty();
            for source in &self.roots {
                let (pem, name) = source.read("CA certificate")?;
                let certs = certificates_from_pem(&pem)
                    .map_err(|why| Error::invalid_argument(format!("TLS CA {name}: {why}")))?;
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| Error::invalid_argument(format!("TLS CA {name}: {e}")))?;
                }
            }
            Arc::new(roots)
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let (cert_pem, cert_name) = cert.read("client certificate")?;
                let (key_pem, key_name) = key.read("client key")?;
                let chain = certificates_from_pem(&cert_pem).map_err(|why| {
                    Error::invalid_argument(format!("TLS client certificate {cert_name}: {why}"))
                })?;
                let key = key_from_pem(&key_pem).map_err(|why| {
                    Error::invalid_argument(format!("TLS client key {key_name}: {why}"))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::invalid_argument(format!(
                        "TLS client certificate {cert_name} and key {key_name}: {e}"
                    ))
                })?
            }
        };
        Ok(config)
    }
}

/// The system's CA certificates, read once per process (and so is their
/// absence).
fn system_roots() -> Result<Arc<RootCertStore>, Error> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(format!(
                "TLS: no CA certificates found on this system ({}); give the client its CA with ClientTls::ca_file",
                found
                    .errors
                    .first()
                    .map_or_else(|| "none installed".to_string(), |e| e.to_string())
            ));
        }
        Ok(Arc::new(roots))
    });
    roots.clone().map_err(Error::failed_precondition)
}

/// A hyper connector for tools that drive hyper or tonic themselves (the
/// `kit` CLI): plain TCP for `http://`, TLS as `tls` says for `https://`
/// (`None`: the system's CAs, if it has any), offering `h2` only or `h2`
/// and `http/1.1` by ALPN.
#[doc(hidden)]
pub fn hyper_connector(tls: Option<&ClientTls>, h2_only: bool) -> Result<Connector, Error> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let alpn = if h2_only { Alpn::H2 } else { Alpn::Any };
    let wants = if tls.is_some() {
        Wants::Yes
    } else {
        Wants::Maybe
    };
    connector(tls, wants, alpn, http)
}

/// The connector of a client: plain TCP for `http://`, TLS for `https://`.
pub type Connector = HttpsConnector<HttpConnector>;

/// Which protocols a connection offers by ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// HTTP/2 only (gRPC, and HTTP with `http2_only`).
    H2,
    /// HTTP/2 or HTTP/1.1, as the server picks.
    Any,
}

/// Whether a client without [`ClientTls`] may dial `https://`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wants {
    /// A base URL says `https://`: the system's CAs, or an error.
    Yes,
    /// Instances are discovered: the system's CAs if there are any.
    Maybe,
    /// Only `http://` base URLs.
    No,
}

/// The connector for `tls` (`None`: `https://` URLs trust the system's
/// CAs, read when the first such client is built), over `http`.
pub(crate) fn connector(
    tls: Option<&ClientTls>,
    wants_tls: Wants,
    alpn: Alpn,
    mut http: HttpConnector,
) -> Result<Connector, Error> {
    http.enforce_http(false);
    let trusting_nobody = || -> Result<rustls::ClientConfig, Error> {
        Ok(rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS: {e}")))?
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth())
    };
    let config = match (tls, wants_tls) {
        (Some(tls), _) => tls.client_config()?,
        (None, Wants::Yes) => ClientTls::new().client_config()?,
        // Discovered instances may say https://: the system's CAs if any.
        (None, Wants::Maybe) => match ClientTls::new().client_config() {
            Ok(config) => config,
            Err(_) => trusting_nobody()?,
        },
        // No https:// URL: a configuration that trusts nobody, never used.
        (None, Wants::No) => trusting_nobody()?,
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http();
    let builder = match tls.and_then(|t| t.server_name.as_deref()) {
        Some(name) => {
            let name = ServerName::try_from(name.to_string())
                .map_err(|e| Error::invalid_argument(format!("TLS server name `{name}`: {e}")))?;
            builder.with_server_name_resolver(FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(match alpn {
        Alpn::H2 => builder.enable_http2().wrap_connector(http),
        Alpn::Any => builder.enable_all_versions().wrap_connector(http),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named() {
        let err = ClientTls::new()
            .ca_file("/nonexistent/ca.pem")
            .client_config()
            .unwrap_err();
        assert!(err.message().contains("/nonexistent/ca.pem"), "{err}");
        let err = ClientTls::new()
            .ca_certificate_pem("junk")
            .client_config()
            .unwrap_err();
        assert!(err.message().contains("no CERTIFICATE"), "{err}");
        let debug = format!("{:?}", ClientTls::new().identity_pem("c", "SECRET"));
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
