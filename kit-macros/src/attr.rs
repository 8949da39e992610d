//! The attribute arguments, as darling reads them.

use darling::util::{Flag, Override, SpannedValue};
use darling::FromMeta;
use syn::LitStr;

/// `#[kit::service(...)]`: the service name and defaults for every endpoint.
#[derive(Debug, Default, FromMeta)]
pub struct ServiceArgs {
    pub name: Option<LitStr>,
    pub package: Option<LitStr>,
    #[darling(flatten)]
    pub defaults: EndpointKeys,
}

/// The keys of `#[endpoint(...)]` that may also be service-wide defaults.
#[derive(Debug, Default, FromMeta)]
pub struct EndpointKeys {
    pub timeout: Option<LitStr>,
    pub retry: Option<SpannedValue<u32>>,
    pub idempotent: Flag,
    /// `grpc` or `grpc = "MethodName"`.
    pub grpc: Option<SpannedValue<Override<LitStr>>>,
}

/// `#[endpoint(...)]`.
#[derive(Debug, Default, FromMeta)]
pub struct EndpointArgs {
    pub http: Option<LitStr>,
    #[darling(flatten)]
    pub keys: EndpointKeys,
}
