//! `auth = "..."`, `requires = "..."` and `public`: who may call.

use syn::LitStr;

use super::attr::{EndpointArgs, EndpointKeys};
use super::Ctxt;

/// The authenticators kit configures from flags; others are the user's
/// own, registered with `Server::authenticator` (checked at start).
const BUILT_IN: &[&str] = &["jwt", "basic", "api_key", "mtls"];

/// An endpoint's policy: the authenticators any one of which may vouch
/// for the caller, and what the caller must hold.
pub(crate) struct Policy {
    pub(crate) schemes: Vec<String>,
    pub(crate) requires: Vec<String>,
}

/// The policy of an endpoint from its keys and the service's defaults:
/// `None` for a public endpoint. Every mistake is reported at its key.
pub(crate) fn policy(
    cx: &mut Ctxt,
    args: &EndpointArgs,
    defaults: &EndpointKeys,
) -> Option<Policy> {
    let public = &args.public;
    if public.is_present() {
        if let Some(auth) = &args.keys.auth {
            cx.error_at(auth, "`public` and `auth` contradict each other: keep one");
        }
        if let Some(requires) = &args.keys.requires {
            cx.error_at(
                requires,
                "a `public` endpoint takes any caller, so it cannot require anything: remove `requires` or `public`",
            );
        }
        if defaults.auth.is_none() {
            cx.error_span(
                public.span(),
                "`public` lifts the service's `auth`, and this service has none: every endpoint is already public; remove `public`",
            );
        }
        return None;
    }
    let auth = args.keys.auth.as_ref().or(defaults.auth.as_ref());
    let requires = args.keys.requires.as_ref().or(defaults.requires.as_ref());
    let Some(auth) = auth else {
        if let Some(requires) = requires {
            cx.error_at(
                requires,
                "`requires` needs a caller to check: add `auth = \"jwt\"` (or another authenticator) to the endpoint or the service",
            );
        }
        return None;
    };
    let schemes = schemes(cx, auth);
    let requires = requires.map(|r| requirements(cx, r)).unwrap_or_default();
    Some(Policy { schemes, requires })
}

/// `"jwt"`, `"jwt | api_key"`.
fn schemes(cx: &mut Ctxt, lit: &LitStr) -> Vec<String> {
    let text = lit.value();
    let schemes: Vec<String> = text.split('|').map(|s| s.trim().to_owned()).collect();
    for scheme in &schemes {
        let valid = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            cx.error_at(
                lit,
                format!(
                    "`{scheme}` is not an authenticator name: write one of {} (or your own, registered with Server::authenticator), several joined by `|`",
                    BUILT_IN.join(", ")
                ),
            );
            return Vec::new();
        }
    }
    for (i, scheme) in schemes.iter().enumerate() {
        if schemes[..i].contains(scheme) {
            cx.error_at(lit, format!("`{scheme}` is named twice"));
        }
    }
    schemes
}

/// `"scope:orders:write role:admin"`: all of them.
fn requirements(cx: &mut Ctxt, lit: &LitStr) -> Vec<String> {
    let text = lit.value();
    let items: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    if items.is_empty() {
        cx.error_at(
            lit,
            "`requires` is empty: write e.g. \"scope:orders:write\" or \"role:admin\"",
        );
    }
    for item in &items {
        let name = item
            .strip_prefix("scope:")
            .or_else(|| item.strip_prefix("role:"));
        if name.is_none_or(str::is_empty) {
            cx.error_at(
                lit,
                format!("`{item}`: a requirement is `scope:NAME` or `role:NAME` (several separated by spaces, all required)"),
            );
        }
    }
    items
}
