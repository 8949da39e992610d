//! The server's certificate, reloaded from its files when they change.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// How often the certificate and key files are read for changes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Reads a PEM certificate chain (end-entity certificate first).
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(path, "certificate")?;
    certificates_from_pem(&pem).map_err(|why| bad_file(path, "certificate", &why))
}

/// The certificates of a PEM text.
pub(crate) fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block in it".into());
    }
    Ok(certs)
}

/// The private key of a PEM text (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY block in it".to_string(),
        e => format!("not a PEM private key: {e}"),
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::invalid_argument(format!("cannot read TLS {what} {}: {e}", path.display()))
    })
}

fn bad_file(path: &Path, what: &str, why: &str) -> Error {
    Error::invalid_argument(format!("TLS {what} {}: {why}", path.display()))
}

/// The certificate chain and key of `cert` and `key` (PEM texts read from
/// those paths), checked to belong together.
fn certified_key(
    cert_path: &Path,
    cert: &[u8],
    key_path: &Path,
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain =
        certificates_from_pem(cert).map_err(|why| bad_file(cert_path, "certificate", &why))?;
    let key = key_from_pem(key).map_err(|why| bad_file(key_path, "key", &why))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad_file(key_path, "key", &e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(e) => Err(Error::invalid_argument(format!(
            "TLS key {} does not belong to certificate {}: {e}",
            key_path.display(),
            cert_path.display()
        ))),
    }
}

/// Serves the certificate last loaded from its files: the server's
/// [`ResolvesServerCert`], so each new handshake takes the current one.
pub(crate) struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    state: RwLock<State>,
}

struct State {
    current: Arc<CertifiedKey>,
    /// The file contents last tried (loaded or refused), to tell a change.
    seen: (Vec<u8>, Vec<u8>),
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ReloadingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the certificate chain and key; fails naming the file at fault.
    pub(crate) fn load(
        cert_path: &Path,
        key_path: &Path,
        provider: Arc<CryptoProvider>,
    ) -> Result<ReloadingCert, Error> {
        let cert = read(cert_path, "certificate")?;
        let key = read(key_path, "key")?;
        let current = certified_key(cert_path, &cert, key_path, &key, &provider)?;
        Ok(ReloadingCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            provider,
            state: RwLock::new(State {
                current: Arc::new(current),
                seen: (cert, key),
            }),
        })
    }

    /// The certificate new handshakes get.
    pub(crate) fn current(&self) -> Arc<CertifiedKey> {
        match self.state.read() {
            Ok(state) => state.current.clone(),
            Err(poisoned) => poisoned.into_inner().current.clone(),
        }
    }

    /// Reads the files and, when they changed since last read, loads
    /// them: `Ok(true)` when a new certificate is in force, `Ok(false)`
    /// when nothing changed, an error (the old certificate stays) when the
    /// new files do not make a certificate and key.
    pub(crate) fn reload_if_changed(&self) -> Result<bool, Error> {
        let cert = read(&self.cert_path, "certificate")?;
        let key = read(&self.key_path, "key")?;
        let Ok(mut state) = self.state.write() else {
            return Err(Error::internal("TLS certificate state poisoned"));
        };
        if state.seen.0 == cert && state.seen.1 == key {
            return Ok(false);
        }
        let loaded = certified_key(&self.cert_path, &cert, &self.key_path, &key, &self.provider);
        // Tried once per change: a half-written pair is tried again when
        // the other file changes too.
        state.seen = (cert, key);
        state.current = Arc::new(loaded?);
        Ok(true)
    }

    /// Polls the files every `interval` for as long as the resolver is in
    /// use (the task ends when the server drops it), logging each reload
    /// at INFO and each failed one at WARN.
    pub(crate) fn watch(self: &Arc<Self>, interval: Duration) {
        let weak: Weak<ReloadingCert> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(cert) = weak.upgrade() else { return };
                // Small files, read off the async workers.
                let job = {
                    let cert = cert.clone();
                    tokio::task::spawn_blocking(move || cert.reload_if_changed())
                };
                match job.await {
                    Ok(Ok(true)) => tracing::info!(
                        cert = %cert.cert_path.display(),
                        key = %cert.key_path.display(),
                        "reloaded the TLS certificate: new connections get it"
                    ),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => tracing::warn!(
                        error = %e.message(),
                        "TLS certificate not reloaded: keeping the one in use"
                    ),
                    Err(e) => tracing::warn!(error = %e, "TLS certificate reload failed"),
                }
            }
        });
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn reloads_a_changed_pair_and_keeps_the_old_one_on_a_bad_one() {
        let dir = std::env::temp_dir().join(format!("kit-tls-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        let (cert, key) = self_signed("one.test");
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        let resolver = ReloadingCert::load(&cert_path, &key_path, provider()).unwrap();
        let first = resolver.current();
        assert!(!resolver.reload_if_changed().unwrap(), "nothing changed");
        assert!(Arc::ptr_eq(&first, &resolver.current()));

        // A new certificate with the old key: refused, the old one stays.
        let (cert2, key2) = self_signed("two.test");
        std::fs::write(&cert_path, &cert2).unwrap();
        let err = resolver.reload_if_changed().unwrap_err();
        assert!(err.message().contains("does not belong"), "{err}");
        assert!(Arc::ptr_eq(&first, &resolver.current()));

        // Then its key arrives: the new pair is in force.
        std::fs::write(&key_path, &key2).unwrap();
        assert!(resolver.reload_if_changed().unwrap());
        let second = resolver.current();
        assert_ne!(first.cert[0], second.cert[0]);
        let id = crate::tls::PeerIdentity::from_der(&second.cert[0]).unwrap();
        assert_eq!(id.dns_names, ["two.test"]);

        // Garbage: refused, naming the file; the second stays.
        std::fs::write(&cert_path, "garbage").unwrap();
        let err = resolver.reload_if_changed().unwrap_err();
        assert!(err.message().contains("cert.pem"), "{err}");
        assert!(Arc::ptr_eq(&second, &resolver.current()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_names_the_file_at_fault() {
        let missing = Path::new("/nonexistent/kit/cert.pem");
        let err = ReloadingCert::load(missing, missing, provider()).unwrap_err();
        assert!(err.message().contains("/nonexistent/kit/cert.pem"), "{err}");
        assert!(key_from_pem(b"").unwrap_err().contains("no PRIVATE KEY"));
        assert!(certificates_from_pem(b"")
            .unwrap_err()
            .contains("no CERTIFICATE"));
    }
}
