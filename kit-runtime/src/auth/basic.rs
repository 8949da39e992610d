//! HTTP basic authentication (RFC 7617) against argon2 password hashes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use futures_util::future::BoxFuture;

use super::{unauthenticated, AuthRequest, Authenticate, Principal, REALM};
use crate::Error;

#[derive(Clone)]
struct User {
    /// The PHC string (`$argon2id$v=19$...`).
    hash: String,
    grants: Vec<String>,
}

/// Verifies `Authorization: Basic ...` against users with argon2 password
/// hashes (PHC strings, as [`hash_password`] and `kit hash-password`
/// make them). Passwords are never stored or compared in clear; an unknown
/// user costs the same hash as a known one, so timing does not tell which
/// users exist. Hashing runs on the blocking thread pool.
///
/// A users file (`--basic-auth-file`) has one user per line,
/// `NAME:PHC-HASH` and optionally the grants the user holds:
///
/// ```text
/// # user:hash [scope:NAME|role:NAME ...]
/// alice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$... scope:orders:write role:admin
/// ```
///
/// ```
/// use kit_runtime::auth::{hash_password, BasicAuth};
/// let auth = BasicAuth::new()
///     .user("alice", &hash_password("correct horse"), ["role:admin"])
///     .unwrap();
/// ```
#[derive(Clone, Default)]
pub struct BasicAuth {
    users: HashMap<String, User>,
}

impl BasicAuth {
    /// No users yet.
    pub fn new() -> BasicAuth {
        BasicAuth::default()
    }

    /// Adds user `name` with password hash `phc` (an argon2 PHC string)
    /// holding `grants` (`scope:NAME`, `role:NAME`).
    pub fn user<'a>(
        mut self,
        name: &str,
        phc: &str,
        grants: impl IntoIterator<Item = &'a str>,
    ) -> Result<BasicAuth, Error> {
        PasswordHash::new(phc).map_err(|_| {
            Error::invalid_argument(format!(
                "the password hash of user `{name}` is not a PHC string"
            ))
        })?;
        if name.is_empty() || name.contains(':') {
            return Err(Error::invalid_argument(format!(
                "user name `{name}` is empty or has a ':'"
            )));
        }
        let grants = grants.into_iter().map(str::to_owned).collect();
        self.users.insert(
            name.to_owned(),
            User {
                hash: phc.to_owned(),
                grants,
            },
        );
        Ok(self)
    }

    /// The users of a users file (see above).
    pub fn from_file(path: impl AsRef<Path>) -> Result<BasicAuth, Error> {
        let mut auth = BasicAuth::new();
        for (at, words) in super::file::entries(path.as_ref(), "users file")? {
            let Some((name, phc)) = words.first().and_then(|w| w.split_once(':')) else {
                let e = Error::invalid_argument("expected `user:hash [grants...]`");
                return Err(super::file::at(&at, &e));
            };
            auth = auth
                .user(name, phc, words[1..].iter().map(String::as_str))
                .map_err(|e| super::file::at(&at, &e))?;
        }
        Ok(auth)
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    async fn verify(
        &self,
        user: String,
        password: super::Secret<String>,
    ) -> Result<Principal, Error> {
        let known = self.users.get(&user);
        let hash = known.map_or_else(|| dummy_hash().to_owned(), |u| u.hash.clone());
        let matched = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .unwrap_or(false);
        match known {
            Some(u) if matched => {
                Ok(Principal::new("basic", user).with_grants(u.grants.iter().map(String::as_str)))
            }
            _ => Err(unauthenticated("wrong user name or password")),
        }
    }
}

/// The hash an unknown user's password is checked against, so the answer
/// takes as long as for a known user.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("kit: no such user"))
}

/// The argon2id hash (PHC string, OWASP's default parameters) of
/// `password` with a random salt: what a users file stores.
///
/// ```
/// let phc = kit_runtime::auth::hash_password("correct horse");
/// assert!(phc.starts_with("$argon2id$"));
/// ```
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    let rng = ring::rand::SystemRandom::new();
    if ring::rand::SecureRandom::fill(&rng, &mut salt).is_err() {
        // No system randomness: still unique per call.
        salt = fastrand::u128(..).to_le_bytes();
    }
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

impl Authenticate for BasicAuth {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Principal>, Error>> {
        Box::pin(async move {
            match request.basic() {
                Some((user, password)) => self.verify(user, password).await.map(Some),
                None if request.has_authorization("basic") => {
                    Err(unauthenticated("malformed basic credentials"))
                }
                None => Ok(None),
            }
        })
    }

    fn challenge(&self) -> Option<String> {
        Some(format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    #[tokio::test]
    async fn right_password_in_wrong_password_and_unknown_user_out() {
        let auth = BasicAuth::new()
            .user("alice", &hash_password("s3cret"), ["scope:w"])
            .unwrap();
        let p = auth
            .verify("alice".into(), Secret::new("s3cret".into()))
            .await
            .unwrap();
        assert_eq!(p.subject(), "alice");
        assert!(p.satisfies("scope:w"));
        let wrong = auth
            .verify("alice".into(), Secret::new("S3cret".into()))
            .await;
        let unknown = auth
            .verify("bob".into(), Secret::new("s3cret".into()))
            .await;
        assert_eq!(wrong.unwrap_err().message(), unknown.unwrap_err().message());
    }

    #[test]
    fn users_files_are_checked_line_by_line() {
        let dir = std::env::temp_dir().join(format!("kit-basic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users");
        let good = format!("# comment\n\nalice:{} role:admin\n", hash_password("x"));
        std::fs::write(&file, &good).unwrap();
        assert_eq!(BasicAuth::from_file(&file).unwrap().len(), 1);
        std::fs::write(&file, "alice:plaintext\n").unwrap();
        let e = BasicAuth::from_file(&file).err().unwrap();
        assert!(
            e.message()
                .contains(":1: the password hash of user `alice`"),
            "{}",
            e.message()
        );
        assert!(BasicAuth::from_file(dir.join("missing")).is_err());
    }
}
