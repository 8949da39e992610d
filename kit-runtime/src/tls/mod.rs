//! TLS on the server's one listener and in clients (planned: being built),
//! and the verified identity of a peer that presented a client certificate.

mod identity;

pub use identity::PeerIdentity;
