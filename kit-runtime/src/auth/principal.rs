//! The authenticated caller.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

/// Who the caller is, as an authenticator established it: in
/// [`Context::principal`](crate::Context::principal) for handlers.
///
/// `requires = "scope:NAME"` checks [`scopes`](Principal::scopes) and
/// `requires = "role:NAME"` checks [`roles`](Principal::roles).
///
/// ```
/// use kit_runtime::auth::Principal;
/// let p = Principal::new("jwt", "user-7")
///     .with_scopes(["orders:read", "orders:write"])
///     .with_roles(["admin"]);
/// assert!(p.satisfies("scope:orders:write"));
/// assert!(p.satisfies("role:admin"));
/// assert!(!p.satisfies("role:auditor"));
/// ```
///
/// Cheap to clone (one shared allocation): authenticators hand out the
/// same principal to every request of a caller.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Principal(Arc<Inner>);

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
struct Inner {
    scheme: String,
    subject: String,
    scopes: BTreeSet<String>,
    roles: BTreeSet<String>,
    claims: serde_json::Map<String, serde_json::Value>,
}

impl Principal {
    /// A caller named `subject`, vouched for by authenticator `scheme`.
    pub fn new(scheme: impl Into<String>, subject: impl Into<String>) -> Principal {
        Principal(Arc::new(Inner {
            scheme: scheme.into(),
            subject: subject.into(),
            ..Inner::default()
        }))
    }

    fn inner(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.0)
    }

    /// The same caller, also holding these scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner()
            .scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The same caller, also holding these roles.
    pub fn with_roles<I, S>(mut self, roles: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner().roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// The same caller with these claims (a JWT's payload).
    pub fn with_claims(mut self, claims: serde_json::Map<String, serde_json::Value>) -> Principal {
        self.inner().claims = claims;
        self
    }

    /// The same caller holding the grants `scope:NAME` and `role:NAME`
    /// listed in `grants` (how credential files spell them).
    pub(crate) fn with_grants<'a>(
        mut self,
        grants: impl IntoIterator<Item = &'a str>,
    ) -> Principal {
        let inner = self.inner();
        for grant in grants {
            if let Some(scope) = grant.strip_prefix("scope:") {
                inner.scopes.insert(scope.to_owned());
            } else if let Some(role) = grant.strip_prefix("role:") {
                inner.roles.insert(role.to_owned());
            }
        }
        self
    }

    /// Which authenticator vouched for the caller (`"jwt"`, `"basic"`, ...).
    pub fn scheme(&self) -> &str {
        &self.0.scheme
    }

    /// The caller's name: a token's `sub`, a user name, an API key's name,
    /// a certificate's SPIFFE ID or common name.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The scopes the caller holds.
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.0.scopes
    }

    /// The roles the caller holds.
    pub fn roles(&self) -> &BTreeSet<String> {
        &self.0.roles
    }

    /// All claims (a JWT's verified payload; empty for other schemes).
    pub fn claims(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0.claims
    }

    /// One claim.
    pub fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.claims.get(name)
    }

    /// Whether the caller holds `requirement`: `scope:NAME` or `role:NAME`.
    pub fn satisfies(&self, requirement: &str) -> bool {
        if let Some(scope) = requirement.strip_prefix("scope:") {
            self.0.scopes.contains(scope)
        } else if let Some(role) = requirement.strip_prefix("role:") {
            self.0.roles.contains(role)
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_split_into_scopes_and_roles() {
        let p = Principal::new("basic", "alice").with_grants(["scope:a:b", "role:x", "junk"]);
        assert!(p.satisfies("scope:a:b"));
        assert!(p.satisfies("role:x"));
        assert!(!p.satisfies("junk"));
        assert!(!p.satisfies("scope:x"));
        assert_eq!(p.scopes().len(), 1);
    }
}
