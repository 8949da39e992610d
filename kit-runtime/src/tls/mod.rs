//! TLS on the server's one listener (HTTP/1.1, HTTP/2 and gRPC, told
//! apart by ALPN and the preface as in plain text), certificates reloaded
//! when their files change, client certificates (mTLS) and the verified
//! identity of the peer that presented one ([`PeerIdentity`]); and TLS in
//! clients ([`ClientTls`]).

pub(crate) mod client;
pub(crate) mod failures;
mod identity;
pub(crate) mod reload;
pub(crate) mod server;

pub use client::ClientTls;
#[doc(hidden)]
pub use client::{hyper_connector, Connector};
pub use identity::PeerIdentity;
pub use server::ClientAuth;
