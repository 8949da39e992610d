//! Who the peer is, from the client certificate it presented (mTLS).

/// The verified identity of a peer that presented a client certificate
/// (mTLS): in [`Context::peer_identity`](crate::Context::peer_identity)
/// for handlers, and what the mTLS authenticator reads.
///
/// ```
/// use kit_runtime::tls::PeerIdentity;
/// let id = PeerIdentity {
///     subject: "CN=orders".into(),
///     dns_names: vec!["orders.internal".into()],
///     uris: vec!["spiffe://example.org/ns/prod/sa/orders".into()],
///     ..PeerIdentity::default()
/// };
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
