//! TLS test fixtures: a throwaway PKI generated at test time (rcgen), and
//! a service that tells what client certificate the server verified.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use serde::{Deserialize, Serialize};

/// A CA that signs certificates.
pub struct Ca {
    pub name: String,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = dn(&[(DnType::CommonName, name)]);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            name: name.to_string(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate and its key, PEM, signed by this CA.
    pub fn sign(&self, params: CertificateParams) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A server certificate for `localhost` and 127.0.0.1, with `serial`.
    pub fn server(&self, serial: u64) -> (String, String) {
        self.sign(server_params(serial))
    }

    /// A server certificate that expired in 2021.
    pub fn expired_server(&self) -> (String, String) {
        let mut params = server_params(99);
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
        self.sign(params)
    }

    /// A client certificate with subject `CN=cn,O=Kit Tests` and these
    /// URI SANs.
    pub fn client(&self, cn: &str, uris: &[&str]) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, "Kit Tests"),
            (DnType::CommonName, cn),
        ]);
        for uri in uris {
            params
                .subject_alt_names
                .push(SanType::URI((*uri).try_into().unwrap()));
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (t, v) in parts {
        dn.push(t.clone(), *v);
    }
    dn
}

fn server_params(serial: u64) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params.distinguished_name = dn(&[(DnType::CommonName, "localhost")]);
    params.serial_number = Some(SerialNumber::from(serial));
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// Every file a TLS test needs, in a fresh directory.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: Ca,
    pub other_ca: Ca,
}

impl Pki {
    /// A CA and an unrelated one; under `dir`: `ca.pem`, `other-ca.pem`,
    /// `server.pem`/`server.key` (serial 1, by the CA), `client.pem`/
    /// `client.key` (`CN=orders`, a SPIFFE URI SAN), `plain-client.*`
    /// (`CN=batch`, no SAN), `rogue-client.*` (by the other CA),
    /// `expired.pem`/`expired.key`, `other-server.*` (by the other CA).
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("kit-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca = Ca::new("Kit Test CA");
        let other_ca = Ca::new("Unrelated CA");
        let pki = Pki { dir, ca, other_ca };
        pki.write("ca.pem", &pki.ca.pem);
        pki.write("other-ca.pem", &pki.other_ca.pem);
        pki.write_pair("server", pki.ca.server(1));
        pki.write_pair(
            "client",
            pki.ca
                .client("orders", &["spiffe://kit.test/ns/prod/sa/orders"]),
        );
        pki.write_pair("plain-client", pki.ca.client("batch", &[]));
        pki.write_pair("rogue-client", pki.other_ca.client("orders", &[]));
        pki.write_pair("expired", pki.ca.expired_server());
        pki.write_pair("other-server", pki.other_ca.server(2));
        pki
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The path as a string, for command lines.
    pub fn arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path(file), text).unwrap();
    }

    /// Writes `NAME.pem` and `NAME.key`.
    pub fn write_pair(&self, name: &str, (cert, key): (String, String)) {
        self.write(&format!("{name}.pem"), &cert);
        self.write(&format!("{name}.key"), &key);
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path(file)).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS connection to `addr`, trusting any of `cas` (PEM), with SNI
/// `localhost`, offering `alpn`.
pub async fn connect(
    addr: &str,
    cas: &[&str],
    alpn: &[&[u8]],
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())
}

/// The certificate `addr` presents in a new TLS handshake (DER), trusting
/// any of `cas` (PEM).
pub async fn presented_certificate(addr: &str, cas: &[&str]) -> Result<Vec<u8>, String> {
    let tls = connect(addr, cas, &[]).await?;
    let (_, session) = tls.get_ref();
    Ok(session
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default())
}

/// The DER of the first certificate of a PEM text.
pub fn der_of(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// What the server verified of the caller's certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Peer {
    /// Whether the request carried a verified client certificate.
    pub verified: bool,
    pub subject: String,
    pub common_name: String,
    pub spiffe_id: String,
    pub uris: Vec<String>,
}

/// Answers with the caller's verified identity, over both transports.
#[derive(Default)]
pub struct WhoAmI;

#[kit::service(name = "whoami", package = "kit.whoami.v1")]
impl WhoAmI {
    /// The client certificate the server verified for this request.
    #[endpoint(http = "GET /whoami", grpc)]
    pub async fn whoami(&self, ctx: &kit::Context) -> Peer {
        match ctx.peer_identity() {
            None => Peer::default(),
            Some(id) => Peer {
                verified: true,
                subject: id.subject.clone(),
                common_name: id.common_name().unwrap_or_default().to_string(),
                spiffe_id: id.spiffe_id().unwrap_or_default().to_string(),
                uris: id.uris.clone(),
            },
        }
    }
}
