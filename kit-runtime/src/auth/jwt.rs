//! JWT bearer tokens (RFC 7519): HS256, RS256 and ES256, issuer,
//! audience and expiry checked with a clock skew allowance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::jwks::JwksCache;
use super::{unauthenticated, AuthRequest, Authenticate, Principal, REALM};
use crate::Error;

/// The signature algorithms kit accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256: a shared secret.
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: an RSA public key.
    RS256,
    /// ECDSA on P-256 with SHA-256: an EC public key.
    ES256,
}

enum Keys {
    /// One key, for tokens of one algorithm.
    Fixed(Arc<DecodingKey>, Algorithm),
    /// Keys by `kid` from a JWKS document (RS256 and ES256).
    Jwks(Box<JwksCache>),
}

/// Verifies `Authorization: Bearer <JWT>`: the signature (HS256, RS256 or
/// ES256 only; `none` and algorithms the key is not for are refused),
/// `exp` (required) and `nbf` with a clock skew allowance (`leeway`,
/// default 60 s), and `iss`/`aud` when configured.
///
/// The principal's subject is `sub` (or `client_id`, `azp`); its scopes
/// come from `scope` (space-separated) or `scp`; its roles from `roles`;
/// every claim is in [`Principal::claims`].
///
/// ```
/// use std::time::Duration;
/// use kit_runtime::auth::Jwt;
/// let jwt = Jwt::hs256(b"a secret of at least 32 bytes, please")
///     .issuer("https://id.example.com")
///     .audience("orders")
///     .leeway(Duration::from_secs(30));
/// ```
pub struct Jwt {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    verified: Verified,
}

/// Tokens verified lately, so a caller that sends the same token again
/// (the common case) costs a lookup, not a signature check: each for at
/// most [`REMEMBER`] and never past its `exp`. Keyed by the whole token
/// in a SipHash map with random keys.
#[derive(Default)]
struct Verified(std::sync::RwLock<HashMap<String, (Principal, Instant)>>);

/// How long a verified token is remembered.
const REMEMBER: Duration = Duration::from_secs(60);
/// At most this many tokens are remembered.
const REMEMBERED: usize = 10_000;

impl Verified {
    fn get(&self, token: &str) -> Option<Principal> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let (principal, until) = map.get(token)?;
        (Instant::now() < *until).then(|| principal.clone())
    }

    fn remember(&self, token: &str, principal: &Principal) {
        let Some(exp) = principal.claim("exp").and_then(Value::as_u64) else {
            return;
        };
        let now = jsonwebtoken::get_current_timestamp();
        let left = Duration::from_secs(exp.saturating_sub(now)).min(REMEMBER);
        if left.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= REMEMBERED {
            map.retain(|_, (_, until)| now < *until);
            if map.len() >= REMEMBERED {
                map.clear();
            }
        }
        map.insert(token.to_owned(), (principal.clone(), now + left));
    }
}

impl Jwt {
    fn with_keys(keys: Keys) -> Jwt {
        Jwt {
            keys,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(60),
            verified: Verified::default(),
        }
    }

    /// HS256 tokens signed with `secret`.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Jwt {
        let key = DecodingKey::from_secret(secret.as_ref());
        Jwt::with_keys(Keys::Fixed(Arc::new(key), Algorithm::HS256))
    }

    /// RS256 tokens, verified with an RSA public key in PEM.
    pub fn rs256_pem(pem: &[u8]) -> Result<Jwt, Error> {
        let key = DecodingKey::from_rsa_pem(pem)
            .map_err(|_| Error::invalid_argument("not an RSA public key in PEM"))?;
        Ok(Jwt::with_keys(Keys::Fixed(Arc::new(key), Algorithm::RS256)))
    }

    /// ES256 tokens, verified with a P-256 public key in PEM.
    pub fn es256_pem(pem: &[u8]) -> Result<Jwt, Error> {
        let key = DecodingKey::from_ec_pem(pem)
            .map_err(|_| Error::invalid_argument("not an EC public key in PEM"))?;
        Ok(Jwt::with_keys(Keys::Fixed(Arc::new(key), Algorithm::ES256)))
    }

    /// A public key in PEM for tokens of `algorithm` (RS256 or ES256).
    pub fn public_key_pem(algorithm: JwtAlgorithm, pem: &[u8]) -> Result<Jwt, Error> {
        match algorithm {
            JwtAlgorithm::RS256 => Jwt::rs256_pem(pem),
            JwtAlgorithm::ES256 => Jwt::es256_pem(pem),
            JwtAlgorithm::HS256 => Err(Error::invalid_argument(
                "HS256 takes a shared secret, not a public key",
            )),
        }
    }

    /// RS256 and ES256 tokens, verified with the key their `kid` names in
    /// the JWKS document at `url` (`http://` or `https://`). Keys are
    /// cached for 5 minutes; a token naming a key the cache does not have
    /// refetches the document at most every 10 s (rotation is picked up
    /// without a restart; a flood of made-up `kid`s does not become a
    /// flood of fetches). When the document cannot be fetched the cached
    /// keys go on being used; with none, calls get UNAVAILABLE. An
    /// `https://` URL is verified with the system's CAs.
    pub fn jwks(url: &str) -> Result<Jwt, Error> {
        Ok(Jwt::with_keys(Keys::Jwks(Box::new(JwksCache::new(
            url, None,
        )?))))
    }

    /// [`Jwt::jwks`] from an `https://` URL verified as `tls` says (a CA
    /// of your own, a client certificate, a server name).
    pub fn jwks_tls(url: &str, tls: &crate::tls::ClientTls) -> Result<Jwt, Error> {
        Ok(Jwt::with_keys(Keys::Jwks(Box::new(JwksCache::new(
            url,
            Some(tls),
        )?))))
    }

    /// How long JWKS keys are cached and how often an unknown `kid` may
    /// refetch the document (defaults 5 min and 10 s).
    pub fn jwks_refresh(mut self, cache_for: Duration, min_interval: Duration) -> Jwt {
        if let Keys::Jwks(cache) = &mut self.keys {
            cache.set_refresh(cache_for, min_interval);
        }
        self
    }

    /// Tokens must have this `iss`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Jwt {
        self.issuer = Some(issuer.into());
        self
    }

    /// Tokens must name this audience in `aud`.
    pub fn audience(mut self, audience: impl Into<String>) -> Jwt {
        self.audience = Some(audience.into());
        self
    }

    /// How far `exp` and `nbf` may be off the server's clock.
    pub fn leeway(mut self, leeway: Duration) -> Jwt {
        self.leeway = leeway;
        self
    }

    /// Verifies `token` and reads its caller. A token verified in the last
    /// minute is not verified again (until its `exp` at the latest).
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        if let Some(principal) = self.verified.get(token) {
            return Ok(principal);
        }
        let principal = self.check(token).await?;
        self.verified.remember(token, &principal);
        Ok(principal)
    }

    async fn check(&self, token: &str) -> Result<Principal, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| unauthenticated("malformed bearer token"))?;
        let (key, algorithm) = match &self.keys {
            Keys::Fixed(key, algorithm) => (key.clone(), *algorithm),
            Keys::Jwks(cache) => {
                if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
                    return Err(unauthenticated("token algorithm not accepted"));
                }
                let key = cache
                    .key(header.kid.as_deref())
                    .await?
                    .ok_or_else(|| unauthenticated("token signed by an unknown key"))?;
                (key, header.alg)
            }
        };
        if header.alg != algorithm {
            return Err(unauthenticated("token algorithm not accepted"));
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        // jsonwebtoken checks `iss` and `aud` only when the token has them:
        // a configured issuer or audience must also be present.
        let mut required = vec!["exp"];
        if self.issuer.is_some() {
            required.push("iss");
        }
        if self.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| unauthenticated(reason(e.kind())))?;
        Ok(principal(data.claims))
    }
}

/// One fixed message per reason: never the token, never a claim's value.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidSignature => "token signature does not verify",
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not valid yet",
        ErrorKind::InvalidIssuer => "token from another issuer",
        ErrorKind::InvalidAudience => "token for another audience",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => "token names no issuer",
            "aud" => "token names no audience",
            _ => "token has no expiry",
        },
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => "token algorithm not accepted",
        _ => "malformed bearer token",
    }
}

/// The caller a verified payload describes.
fn principal(claims: Map<String, Value>) -> Principal {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let subject = text("sub")
        .or_else(|| text("client_id"))
        .or_else(|| text("azp"))
        .unwrap_or_default()
        .to_owned();
    let words = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut scopes = words(claims.get("scope"));
    scopes.extend(words(claims.get("scp")));
    let roles = words(claims.get("roles"));
    Principal::new("jwt", subject)
        .with_scopes(scopes)
        .with_roles(roles)
        .with_claims(claims)
}

impl Authenticate for Jwt {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Principal>, Error>> {
        Box::pin(async move {
            match request.bearer_token() {
                Some(token) => self.verify(token).await.map(Some),
                None => Ok(None),
            }
        })
    }

    fn challenge(&self) -> Option<String> {
        Some(format!("Bearer realm=\"{REALM}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn token(claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn jwt() -> Jwt {
        Jwt::hs256(SECRET).issuer("iss-a").audience("aud-a")
    }

    async fn message(claims: Value) -> String {
        jwt()
            .verify(&token(claims))
            .await
            .unwrap_err()
            .message()
            .to_owned()
    }

    #[tokio::test]
    async fn a_valid_token_names_its_caller() {
        let t = token(json!({"sub": "u1", "iss": "iss-a", "aud": ["aud-a", "x"],
            "exp": now() + 60, "scope": "a b", "scp": ["c"], "roles": ["admin"]}));
        let p = jwt().verify(&t).await.unwrap();
        assert_eq!(p.subject(), "u1");
        assert!(p.satisfies("scope:a") && p.satisfies("scope:b") && p.satisfies("scope:c"));
        assert!(p.satisfies("role:admin"));
        assert_eq!(p.claim("iss"), Some(&json!("iss-a")));
    }

    #[tokio::test]
    async fn every_check_refuses_with_its_own_reason() {
        let base = |extra: Value| {
            let mut c = json!({"sub": "u", "iss": "iss-a", "aud": "aud-a", "exp": now() + 60});
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        assert_eq!(
            message(base(json!({"exp": now() - 120}))).await,
            "token expired"
        );
        assert_eq!(
            message(base(json!({"nbf": now() + 120}))).await,
            "token not valid yet"
        );
        assert_eq!(
            message(base(json!({"iss": "other"}))).await,
            "token from another issuer"
        );
        assert_eq!(
            message(base(json!({"aud": "other"}))).await,
            "token for another audience"
        );
        let no_exp = json!({"sub": "u", "iss": "iss-a", "aud": "aud-a"});
        assert_eq!(message(no_exp).await, "token has no expiry");
        // A configured issuer or audience must be there, not only match
        // when it is (jsonwebtoken alone lets a token without them pass).
        let no_iss = json!({"sub": "u", "aud": "aud-a", "exp": now() + 60});
        assert_eq!(message(no_iss).await, "token names no issuer");
        let no_aud = json!({"sub": "u", "iss": "iss-a", "exp": now() + 60});
        assert_eq!(message(no_aud).await, "token names no audience");
        let wrong_type = json!({"sub": "u", "iss": 7, "aud": "aud-a", "exp": now() + 60});
        assert_eq!(message(wrong_type).await, "token names no issuer");
        // Within the leeway.
        assert!(jwt()
            .verify(&token(base(json!({"exp": now() - 30}))))
            .await
            .is_ok());
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &base(json!({})),
            &EncodingKey::from_secret(b"another secret of enough length!"),
        )
        .unwrap();
        let e = jwt().verify(&forged).await.unwrap_err();
        assert_eq!(e.message(), "token signature does not verify");
        assert_eq!(e.code(), crate::Code::Unauthenticated);
    }

    #[tokio::test]
    async fn verified_tokens_are_remembered_until_their_exp() {
        let jwt = jwt();
        let t = token(json!({"sub": "u", "iss": "iss-a", "aud": "aud-a", "exp": now() + 2}));
        assert!(jwt.verify(&t).await.is_ok());
        assert!(jwt.verified.get(&t).is_some(), "remembered");
        // A token never verified is not in it, however similar.
        let mut other = t.clone();
        other.pop();
        assert!(jwt.verified.get(&other).is_none());
        assert!(jwt.verify(&other).await.is_err());
        // Remembered no longer than its exp (leeway aside: the next check
        // is a full one again).
        let until = jwt.verified.0.read().unwrap()[&t].1;
        assert!(until <= Instant::now() + Duration::from_secs(2));
        let expired = token(json!({"sub": "u", "iss": "iss-a", "aud": "aud-a", "exp": now() - 10}));
        assert!(jwt.verify(&expired).await.is_ok(), "within the leeway");
        assert!(
            jwt.verified.get(&expired).is_none(),
            "not remembered past its exp"
        );
    }

    #[tokio::test]
    async fn unsigned_and_mismatched_algorithms_are_refused() {
        // {"alg":"none"} . {"sub":"u","exp":9999999999} . (empty)
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(jwt().verify(none).await.is_err());
        let hs384 = encode(
            &Header::new(Algorithm::HS384),
            &json!({"sub": "u", "exp": now() + 60}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        let e = jwt().verify(&hs384).await.unwrap_err();
        assert_eq!(e.message(), "token algorithm not accepted");
        for junk in ["", "a.b", "a.b.c", "....", "eyJ9.eyJ9.x"] {
            assert_eq!(
                jwt().verify(junk).await.unwrap_err().message(),
                "malformed bearer token"
            );
        }
    }
}
