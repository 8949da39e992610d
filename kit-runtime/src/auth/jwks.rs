//! Keys from a JWKS document, fetched over HTTP and cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::DecodingKey;
use tokio::time::Instant;

use crate::tls::{hyper_connector, ClientTls, Connector};
use crate::{Code, Error};

/// The largest JWKS document read.
const MAX_DOCUMENT: usize = 1 << 20;
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched: Option<Instant>,
}

/// The keys of one JWKS URL.
pub(crate) struct JwksCache {
    url: Uri,
    client: Client<Connector, Empty<Bytes>>,
    cache_for: Duration,
    min_interval: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    /// The keys at `url`; an `https://` URL is verified with `tls` (the
    /// system's CAs when `None`).
    pub(crate) fn new(url: &str, tls: Option<&ClientTls>) -> Result<JwksCache, Error> {
        let url: Uri = url
            .parse()
            .map_err(|_| Error::invalid_argument(format!("JWKS URL `{url}` is not a URL")))?;
        let wants_tls = match url.scheme_str() {
            Some("https") => true,
            Some("http") if tls.is_none() => false,
            Some("http") => {
                return Err(Error::invalid_argument(format!(
                    "JWKS URL `{url}` is http://, but TLS settings were given: write https://"
                )))
            }
            _ => {
                return Err(Error::invalid_argument(format!(
                    "JWKS URL `{url}` must start with https:// or http://"
                )))
            }
        };
        let connector = match (wants_tls, tls) {
            (true, Some(tls)) => hyper_connector(Some(tls), false)?,
            (true, None) => hyper_connector(Some(&ClientTls::new()), false)?,
            (false, _) => hyper_connector(None, false)?,
        };
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(JwksCache {
            url,
            client,
            cache_for: Duration::from_secs(300),
            min_interval: Duration::from_secs(10),
            cached: RwLock::new(Cached::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// How long keys are cached and how often an unknown `kid` may refetch.
    pub(crate) fn set_refresh(&mut self, cache_for: Duration, min_interval: Duration) {
        self.cache_for = cache_for;
        self.min_interval = min_interval;
    }

    /// The key named `kid` (a token without one: the document's only key).
    pub(crate) async fn key(&self, kid: Option<&str>) -> Result<Option<Arc<DecodingKey>>, Error> {
        let asked = Instant::now();
        if let Some(answer) = self.cached_answer(kid, asked, false) {
            return Ok(answer);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Someone else fetched while this call waited.
        if let Some(answer) = self.cached_answer(kid, asked, true) {
            return Ok(answer);
        }
        match self.fetch().await {
            Ok(keys) => {
                metrics::counter!("kit_auth_jwks_fetches_total", "result" => "ok").increment(1);
                let mut cached = self.cached.write().unwrap_or_else(|p| p.into_inner());
                cached.keys = keys;
                cached.fetched = Some(Instant::now());
                Ok(find(&cached.keys, kid))
            }
            Err(e) => {
                metrics::counter!("kit_auth_jwks_fetches_total", "result" => "error").increment(1);
                tracing::warn!(url = %self.url, error = %e.message(), "cannot fetch the JWKS; using the keys cached");
                let mut cached = self.cached.write().unwrap_or_else(|p| p.into_inner());
                if cached.fetched.is_none() && cached.keys.is_empty() {
                    return Err(e);
                }
                // Keep serving the keys held; ask again after the interval.
                cached.fetched = Some(Instant::now());
                Ok(find(&cached.keys, kid))
            }
        }
    }

    /// What the cache can answer without fetching: a fresh key, or "no
    /// such key" when the document was fetched too recently to fetch
    /// again (`after_wait`: also when fetched since `asked`).
    fn cached_answer(
        &self,
        kid: Option<&str>,
        asked: Instant,
        after_wait: bool,
    ) -> Option<Option<Arc<DecodingKey>>> {
        let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
        let fetched = cached.fetched?;
        let now = Instant::now();
        let found = find(&cached.keys, kid);
        if after_wait && fetched >= asked {
            return Some(found);
        }
        if found.is_some() && now < fetched + self.cache_for {
            return Some(found);
        }
        if found.is_none() && now < fetched + self.min_interval {
            return Some(None);
        }
        None
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, Error> {
        let unavailable = |why: String| Error::new(Code::Unavailable, why);
        let request = Request::get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| unavailable(format!("JWKS request: {e}")))?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| unavailable("JWKS fetch timed out".into()))?
            .map_err(|e| unavailable(format!("JWKS fetch failed: {e}")))?;
        if response.status() != StatusCode::OK {
            return Err(unavailable(format!(
                "JWKS fetch answered {}",
                response.status()
            )));
        }
        let body = tokio::time::timeout(
            FETCH_TIMEOUT,
            Limited::new(response.into_body(), MAX_DOCUMENT).collect(),
        )
        .await
        .map_err(|_| unavailable("JWKS fetch timed out".into()))?
        .map_err(|e| unavailable(format!("JWKS body: {e}")))?
        .to_bytes();
        parse(&body).map_err(unavailable)
    }
}

fn find(keys: &HashMap<String, Arc<DecodingKey>>, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
    match kid {
        Some(kid) => keys.get(kid).cloned(),
        None if keys.len() == 1 => keys.values().next().cloned(),
        None => None,
    }
}

/// The usable keys of a JWKS document, by `kid` (keys without one are
/// kept under "" for tokens without a `kid`).
pub(crate) fn parse(document: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|e| format!("JWKS document: {e}"))?;
    let keys: HashMap<_, _> = set
        .keys
        .iter()
        .filter_map(|jwk| {
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((jwk.common.key_id.clone().unwrap_or_default(), Arc::new(key)))
        })
        .collect();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_the_keys_they_can_use() {
        let doc = br#"{"keys":[
            {"kty":"EC","crv":"P-256","kid":"e1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"oct","kid":"s1","k":"c2VjcmV0"},
            {"kty":"XX","kid":"weird"}
        ]}"#;
        // An unknown key type fails the whole document in jsonwebtoken.
        assert!(parse(doc).is_err());
        let doc = br#"{"keys":[
            {"kty":"EC","crv":"P-256","kid":"e1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}"#;
        let keys = parse(doc).unwrap();
        assert!(keys.contains_key("e1"));
        assert!(
            find(&keys, None).is_some(),
            "the only key serves tokens without a kid"
        );
        assert!(parse(b"not json").is_err());
    }
}
