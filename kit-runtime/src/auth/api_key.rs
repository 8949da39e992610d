//! API keys in a header, stored as SHA-256 digests.

use std::path::Path;

use futures_util::future::BoxFuture;
use http::HeaderName;
use subtle::ConstantTimeEq;

use super::{unauthenticated, AuthRequest, Authenticate, Principal, REALM};
use crate::Error;

#[derive(Clone)]
struct Key {
    digest: [u8; 32],
    /// The caller this key names, made once.
    principal: Principal,
}

impl Key {
    fn new<'a>(name: &str, digest: [u8; 32], grants: impl IntoIterator<Item = &'a str>) -> Key {
        Key {
            digest,
            principal: Principal::new("api_key", name).with_grants(grants),
        }
    }
}

/// Verifies an API key sent in a header (`x-api-key` by default). Keys
/// are kept as SHA-256 digests and compared in constant time against
/// every key (no early exit), so neither the keys nor timing leak; the
/// principal's subject is the key's name.
///
/// A keys file (`--api-keys-file`) has one key per line: its name, the
/// digest (`sha256:HEX`, e.g. from `printf %s "$KEY" | sha256sum`) and
/// optionally grants:
///
/// ```text
/// ci-bot sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 scope:deploy
/// ```
///
/// ```
/// use kit_runtime::auth::ApiKeys;
/// let keys = ApiKeys::new().key("ci-bot", "the key itself", ["scope:deploy"]);
/// ```
#[derive(Clone)]
pub struct ApiKeys {
    header: HeaderName,
    keys: Vec<Key>,
}

impl Default for ApiKeys {
    fn default() -> Self {
        ApiKeys {
            header: HeaderName::from_static("x-api-key"),
            keys: Vec::new(),
        }
    }
}

/// The SHA-256 digest of `key`.
fn digest(key: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl ApiKeys {
    /// No keys yet, read from `x-api-key`.
    pub fn new() -> ApiKeys {
        ApiKeys::default()
    }

    /// Reads keys from `header` instead.
    pub fn header(mut self, header: HeaderName) -> ApiKeys {
        self.header = header;
        self
    }

    /// `sha256:HEX` of `key`: what a keys file stores.
    ///
    /// ```
    /// assert_eq!(
    ///     kit_runtime::auth::ApiKeys::digest("test"),
    ///     "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    /// );
    /// ```
    pub fn digest(key: &str) -> String {
        let hex: String = digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    }

    /// Adds key `key` (kept only as its digest) named `name`.
    pub fn key<'a>(
        mut self,
        name: &str,
        key: &str,
        grants: impl IntoIterator<Item = &'a str>,
    ) -> ApiKeys {
        self.keys
            .push(Key::new(name, digest(key.as_bytes()), grants));
        self
    }

    /// Adds a key by its digest, `sha256:HEX`.
    pub fn key_digest<'a>(
        mut self,
        name: &str,
        sha256: &str,
        grants: impl IntoIterator<Item = &'a str>,
    ) -> Result<ApiKeys, Error> {
        let bad =
            || Error::invalid_argument(format!("key `{name}`: expected sha256:<64 hex digits>"));
        let hex = sha256.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        self.keys.push(Key::new(name, digest, grants));
        Ok(self)
    }

    /// The keys of a keys file (see above).
    pub fn from_file(path: impl AsRef<Path>) -> Result<ApiKeys, Error> {
        let mut keys = ApiKeys::new();
        for (at, words) in super::file::entries(path.as_ref(), "API keys file")? {
            let [name, hash, grants @ ..] = words.as_slice() else {
                let e = Error::invalid_argument("expected `name sha256:HEX [grants...]`");
                return Err(super::file::at(&at, &e));
            };
            keys = keys
                .key_digest(name, hash, grants.iter().map(String::as_str))
                .map_err(|e| super::file::at(&at, &e))?;
        }
        Ok(keys)
    }

    /// The key matching `presented`, checked against all of them.
    fn find(&self, presented: &[u8]) -> Option<&Key> {
        let presented = digest(presented);
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&presented)) {
                found = Some(key);
            }
        }
        found
    }
}

impl Authenticate for ApiKeys {
    fn authenticate<'a>(
        &'a self,
        request: &'a AuthRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Principal>, Error>> {
        Box::pin(async move {
            let Some(value) = request.headers().get(&self.header) else {
                return Ok(None);
            };
            match self.find(value.as_bytes()) {
                Some(key) => Ok(Some(key.principal.clone())),
                None => Err(unauthenticated("unknown API key")),
            }
        })
    }

    fn challenge(&self) -> Option<String> {
        Some(format!(
            "ApiKey realm=\"{REALM}\", header=\"{}\"",
            self.header
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[tokio::test]
    async fn keys_match_by_digest() {
        // sha256("test")
        let keys = ApiKeys::new()
            .key_digest(
                "ci",
                "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ["scope:deploy"],
            )
            .unwrap()
            .key("other", "hunter2", []);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "test".parse().unwrap());
        let p = keys
            .authenticate(&AuthRequest::new(&headers, None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.subject(), "ci");
        assert!(p.satisfies("scope:deploy"));
        headers.insert("x-api-key", "hunter2".parse().unwrap());
        let p = keys
            .authenticate(&AuthRequest::new(&headers, None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.subject(), "other");
        headers.insert("x-api-key", "nope".parse().unwrap());
        let e = keys
            .authenticate(&AuthRequest::new(&headers, None))
            .await
            .unwrap_err();
        assert_eq!(e.message(), "unknown API key");
        assert!(keys
            .authenticate(&AuthRequest::new(&HeaderMap::new(), None))
            .await
            .unwrap()
            .is_none());
        assert!(ApiKeys::new().key_digest("x", "sha256:zz", []).is_err());
        assert!(ApiKeys::new().key_digest("x", "md5:00", []).is_err());
    }
}
