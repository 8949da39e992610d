//! Who the peer is, from the client certificate it presented (mTLS).

/// The verified identity of a peer that presented a client certificate
/// (mTLS): in [`Context::peer_identity`](crate::Context::peer_identity)
/// for handlers, and what the mTLS authenticator reads.
///
/// ```
/// use kit_runtime::tls::PeerIdentity;
/// // Non-exhaustive (fields may be added): made by the server, or
/// // field by field.
/// let mut id = PeerIdentity::default();
/// id.subject = "CN=orders".into();
/// id.dns_names = vec!["orders.internal".into()];
/// id.uris = vec!["spiffe://example.org/ns/prod/sa/orders".into()];
/// assert_eq!(id.spiffe_id(), Some("spiffe://example.org/ns/prod/sa/orders"));
/// assert_eq!(id.common_name(), Some("orders"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerIdentity {
    /// The certificate's subject distinguished name, RFC 4514 style
    /// (`CN=orders,O=Example`).
    pub subject: String,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// URI subject alternative names (a SPIFFE ID is one).
    pub uris: Vec<String>,
    /// IP address subject alternative names, as text.
    pub ip_addresses: Vec<String>,
}

impl PeerIdentity {
    /// The first `spiffe://` URI SAN, the workload's SPIFFE ID.
    pub fn spiffe_id(&self) -> Option<&str> {
        self.uris
            .iter()
            .map(String::as_str)
            .find(|u| u.starts_with("spiffe://"))
    }

    /// The subject's common name (`CN=`), if it has one.
    pub fn common_name(&self) -> Option<&str> {
        self.subject
            .split(',')
            .map(str::trim)
            .find_map(|rdn| rdn.strip_prefix("CN="))
    }
}

impl PeerIdentity {
    /// The identity a DER-encoded X.509 certificate states: its subject,
    /// RFC 4514 style (most specific RDN first, `CN=orders,O=Example`), and
    /// its DNS, URI and IP subject alternative names.
    ///
    /// The server calls this once per connection on the client's
    /// end-entity certificate, after rustls has verified it.
    pub fn from_der(der: &[u8]) -> Result<PeerIdentity, String> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let mut identity = PeerIdentity {
            subject: rfc4514(cert.subject()),
            ..PeerIdentity::default()
        };
        let san = cert
            .subject_alternative_name()
            .map_err(|e| format!("bad subject alternative names: {e}"))?;
        for name in san.iter().flat_map(|san| san.value.general_names.iter()) {
            match name {
                GeneralName::DNSName(dns) => identity.dns_names.push((*dns).to_string()),
                GeneralName::URI(uri) => identity.uris.push((*uri).to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        identity.ip_addresses.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(identity)
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// A distinguished name as RFC 4514 writes it: RDNs last to first,
/// separated by `,`, known attribute types by name, others by their OID,
/// values escaped (non-string values as `#` and their hex).
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            let parts: Vec<String> = rdn
                .iter()
                .map(|attr| {
                    let oid = attr.attr_type().to_id_string();
                    let key = match oid.as_str() {
                        "2.5.4.3" => "CN",
                        "2.5.4.6" => "C",
                        "2.5.4.7" => "L",
                        "2.5.4.8" => "ST",
                        "2.5.4.9" => "STREET",
                        "2.5.4.10" => "O",
                        "2.5.4.11" => "OU",
                        "0.9.2342.19200300.100.1.25" => "DC",
                        "0.9.2342.19200300.100.1.1" => "UID",
                        other => other,
                    }
                    .to_string();
                    let value = match attr.as_str() {
                        Ok(text) => escape(text),
                        Err(_) => {
                            let mut hex = String::from("#");
                            for b in attr.attr_value().data.iter() {
                                hex.push_str(&format!("{b:02x}"));
                            }
                            hex
                        }
                    };
                    format!("{key}={value}")
                })
                .collect();
            parts.join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Escapes an attribute value (RFC 4514 section 2.4).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_rfc_4514_says() {
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn subject_and_alternative_names_of_a_certificate() {
        use rcgen::{CertificateParams, DnType, KeyPair, SanType};
        let mut params = CertificateParams::new(vec!["orders.internal".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example, Inc");
        params.distinguished_name.push(DnType::CommonName, "orders");
        params.subject_alt_names.push(SanType::URI(
            "spiffe://example.org/ns/prod/sa/orders".try_into().unwrap(),
        ));
        params
            .subject_alt_names
            .push(SanType::IpAddress("10.0.0.7".parse().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let id = PeerIdentity::from_der(cert.der()).unwrap();
        assert_eq!(id.subject, "CN=orders,O=Example\\, Inc");
        assert_eq!(id.common_name(), Some("orders"));
        assert_eq!(id.dns_names, ["orders.internal"]);
        assert_eq!(
            id.spiffe_id(),
            Some("spiffe://example.org/ns/prod/sa/orders")
        );
        assert_eq!(id.ip_addresses, ["10.0.0.7"]);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let err = PeerIdentity::from_der(b"not der").unwrap_err();
        assert!(err.contains("not an X.509 certificate"), "{err}");
    }
}
