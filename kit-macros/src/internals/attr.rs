//! Every attribute kit reads, as darling types: unknown keys, duplicates
//! and wrong value types get darling's errors (with "did you mean")
//! everywhere alike.

use darling::util::{Flag, Override, SpannedValue};
use darling::{FromAttributes, FromMeta};
use syn::LitStr;

/// `#[kit::service(...)]`: the service name, protobuf package and defaults
/// for every endpoint.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ServiceArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) package: Option<LitStr>,
    /// `concurrency = N`: requests the whole service runs at once.
    pub(crate) concurrency: Option<SpannedValue<u32>>,
    #[darling(flatten)]
    pub(crate) defaults: EndpointKeys,
}

/// The keys of `#[endpoint(...)]` that may also be service-wide defaults.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct EndpointKeys {
    pub(crate) timeout: Option<LitStr>,
    /// `slow = "250ms"`: requests slower than this are logged at WARN.
    pub(crate) slow: Option<LitStr>,
    pub(crate) retry: Option<SpannedValue<u32>>,
    pub(crate) idempotent: Flag,
    /// `rate = "100/s"`: the server's rate limit.
    pub(crate) rate: Option<LitStr>,
    /// `burst = N`: with `rate`, requests allowed at once.
    pub(crate) burst: Option<SpannedValue<u32>>,
    /// `grpc` or `grpc = "MethodName"`.
    pub(crate) grpc: Option<SpannedValue<Override<LitStr>>>,
    /// `auth = "jwt"` or `"jwt | api_key"`: who may vouch for callers.
    pub(crate) auth: Option<LitStr>,
    /// `requires = "scope:NAME role:NAME"`: what callers must hold.
    pub(crate) requires: Option<LitStr>,
}

/// `#[endpoint(...)]`.
#[derive(Debug, Default, FromMeta)]
pub(crate) struct EndpointArgs {
    pub(crate) http: Option<LitStr>,
    /// `concurrency = N`: requests this endpoint runs at once.
    pub(crate) concurrency: Option<SpannedValue<u32>>,
    /// `public`: no `auth` for this endpoint, whatever the service says.
    pub(crate) public: Flag,
    #[darling(flatten)]
    pub(crate) keys: EndpointKeys,
}

/// `#[kit(...)]` on a `#[derive(kit::Message)]` struct or enum.
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(kit))]
pub(crate) struct MessageAttr {
    /// `name = "..."`: the protobuf name.
    pub(crate) name: Option<LitStr>,
}

/// `#[kit(...)]` on a message field.
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(kit))]
pub(crate) struct FieldAttr {
    /// `tag = N`: the field number.
    pub(crate) tag: Option<SpannedValue<u32>>,
}

/// `#[kit(...)]` on an enum variant. A fieldless enum's values are
/// numbered by discriminant, so `tag` is for the variants of an enum with
/// data (its oneof field number).
#[derive(Debug, Default, FromAttributes)]
#[darling(attributes(kit))]
pub(crate) struct VariantAttr {
    /// `tag = N`: the oneof field number.
    pub(crate) tag: Option<SpannedValue<u32>>,
}
