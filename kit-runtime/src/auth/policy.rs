//! The server's authenticators, and the verdict on one request.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderValue;

use super::{unauthenticated, AuthRequest, Authenticate, Mtls, Principal};
use crate::descriptor::{AuthPolicy, ServiceDescriptor};
use crate::{Code, Error};

/// The authenticators a server knows, by the name `auth = "..."` uses.
/// Every server has `mtls`; the flags add `jwt`, `basic` and `api_key`;
/// [`Server::authenticator`](crate::Server::authenticator) adds or
/// replaces any.
#[derive(Clone)]
pub struct Authenticators {
    by_name: BTreeMap<String, Arc<dyn Authenticate>>,
}

impl Default for Authenticators {
    fn default() -> Self {
        let mut by_name: BTreeMap<String, Arc<dyn Authenticate>> = BTreeMap::new();
        by_name.insert("mtls".into(), Arc::new(Mtls::new()));
        Authenticators { by_name }
    }
}

impl std::fmt::Debug for Authenticators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_name.keys()).finish()
    }
}

/// What the server does with a request to a guarded endpoint.
pub(crate) enum Verdict {
    /// Run it for this caller.
    Allowed(Principal),
    /// Answer this (UNAUTHENTICATED with the challenges, PERMISSION_DENIED,
    /// or UNAVAILABLE when keys could not be had).
    Refused(Error, Option<HeaderValue>),
}

impl Authenticators {
    /// `mtls` only.
    pub fn new() -> Authenticators {
        Authenticators::default()
    }

    /// Adds (or replaces) authenticator `name`.
    pub fn insert(&mut self, name: impl Into<String>, authenticator: impl Authenticate) {
        self.insert_shared(name, Arc::new(authenticator));
    }

    /// Adds (or replaces) authenticator `name`, shared.
    pub fn insert_shared(&mut self, name: impl Into<String>, authenticator: Arc<dyn Authenticate>) {
        self.by_name.insert(name.into(), authenticator);
    }

    /// Whether `name` is known.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The names known.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Why `services` cannot be served with these authenticators: one line
    /// per endpoint naming one that is not configured.
    pub(crate) fn missing(&self, services: &[&'static ServiceDescriptor]) -> Vec<String> {
        let mut problems = Vec::new();
        for service in services {
            for endpoint in service.endpoints {
                let Some(policy) = endpoint.auth else {
                    continue;
                };
                for scheme in policy.schemes {
                    if !self.contains(scheme) {
                        problems.push(format!(
                            "{}.{} needs authenticator `{scheme}`, which this server does not have ({})",
                            service.name,
                            endpoint.name,
                            how_to_configure(scheme)
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Who sent `request`, and whether they may call an endpoint with `policy`.
    pub(crate) async fn check(&self, policy: &AuthPolicy, request: &AuthRequest<'_>) -> Verdict {
        self.check_schemes(policy.schemes, policy.requires, request)
            .await
    }

    /// Who sent `request`, vouched for by one of `schemes`, and whether
    /// they hold `requires`.
    pub(crate) async fn check_schemes(
        &self,
        schemes: &[&str],
        requires: &[&str],
        request: &AuthRequest<'_>,
    ) -> Verdict {
        let mut failure: Option<Error> = None;
        for scheme in schemes {
            let Some(authenticator) = self.by_name.get(*scheme) else {
                continue;
            };
            match authenticator.authenticate(request).await {
                Ok(Some(principal)) => return authorize(principal, requires),
                Ok(None) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let error = failure.unwrap_or_else(|| {
            unauthenticated(&format!("credentials required: {}", schemes.join(" or ")))
        });
        let challenge = (error.code() == Code::Unauthenticated)
            .then(|| self.challenges(schemes))
            .flatten();
        Verdict::Refused(error, challenge)
    }

    /// The `WWW-Authenticate` value naming every scheme allowed.
    fn challenges(&self, schemes: &[&str]) -> Option<HeaderValue> {
        let all: Vec<String> = schemes
            .iter()
            .filter_map(|s| self.by_name.get(*s)?.challenge())
            .collect();
        HeaderValue::from_str(&all.join(", ")).ok()
    }
}

/// The caller may run the endpoint if they hold every requirement.
fn authorize(principal: Principal, requires: &[&str]) -> Verdict {
    let missing: Vec<&str> = requires
        .iter()
        .copied()
        .filter(|r| !principal.satisfies(r))
        .collect();
    if missing.is_empty() {
        Verdict::Allowed(principal)
    } else {
        Verdict::Refused(
            Error::new(
                Code::PermissionDenied,
                format!("the caller lacks {}", missing.join(", ")),
            ),
            None,
        )
    }
}

fn how_to_configure(scheme: &str) -> &'static str {
    match scheme {
        "jwt" => "set --jwt-secret-file, --jwt-public-key-file or --jwt-jwks-url",
        "basic" => "set --basic-auth-file",
        "api_key" => "set --api-keys-file",
        _ => "add it with Server::authenticator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ApiKeys;
    use http::HeaderMap;

    const POLICY: AuthPolicy = AuthPolicy {
        schemes: &["api_key", "mtls"],
        requires: &["scope:write"],
    };

    async fn verdict(auth: &Authenticators, key: Option<&str>) -> Verdict {
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            headers.insert("x-api-key", key.parse().unwrap());
        }
        auth.check(&POLICY, &AuthRequest::new(&headers, None)).await
    }

    #[tokio::test]
    async fn no_credentials_wrong_credentials_and_missing_grants() {
        let mut auth = Authenticators::new();
        auth.insert(
            "api_key",
            ApiKeys::new()
                .key("w", "kw", ["scope:write"])
                .key("r", "kr", []),
        );
        let Verdict::Refused(e, challenge) = verdict(&auth, None).await else {
            panic!("no credentials got in")
        };
        assert_eq!(e.code(), Code::Unauthenticated);
        assert_eq!(e.message(), "credentials required: api_key or mtls");
        let challenge = challenge.unwrap();
        assert!(challenge
            .to_str()
            .unwrap()
            .starts_with("ApiKey realm=\"kit\""));
        let Verdict::Refused(e, _) = verdict(&auth, Some("nope")).await else {
            panic!("a wrong key got in")
        };
        assert_eq!(e.message(), "unknown API key");
        let Verdict::Refused(e, challenge) = verdict(&auth, Some("kr")).await else {
            panic!("a key without the scope got in")
        };
        assert_eq!(e.code(), Code::PermissionDenied);
        assert_eq!(e.message(), "the caller lacks scope:write");
        assert!(challenge.is_none());
        let Verdict::Allowed(p) = verdict(&auth, Some("kw")).await else {
            panic!("the right key was refused")
        };
        assert_eq!(p.subject(), "w");
    }

    #[test]
    fn endpoints_naming_unknown_authenticators_are_found() {
        static ENDPOINTS: [crate::descriptor::EndpointDescriptor; 1] = [crate::codegen::auth(
            crate::codegen::endpoint(
                "s",
                "e",
                "",
                None,
                None,
                None,
                0,
                false,
                crate::codegen::NO_LIMITS,
                &[],
                "()",
            ),
            &["jwt"],
            &[],
        )];
        static SERVICE: ServiceDescriptor =
            crate::codegen::service("s", "S", "0", "", None, None, &ENDPOINTS);
        let problems = Authenticators::new().missing(&[&SERVICE]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("s.e needs authenticator `jwt`"),
            "{}",
            problems[0]
        );
    }
}
