//! The authenticators a server's flags configure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::parse_duration;
use crate::auth::{ApiKeys, Authenticators, BasicAuth, Jwt};
use crate::Error;

/// Who may call: the authenticators endpoints name in `auth = "..."`.
/// Flattened into [`Config`](super::Config):
///
/// | flag | env | default |
/// | --- | --- | --- |
/// | `--jwt-secret-file FILE` | `KIT_JWT_SECRET_FILE` | none (HS256 with this secret) |
/// | `--jwt-public-key-file FILE` | `KIT_JWT_PUBLIC_KEY_FILE` | none (RS256 or ES256, by the key in PEM) |
/// | `--jwt-jwks-url URL` | `KIT_JWT_JWKS_URL` | none (RS256/ES256 keys by `kid`) |
/// | `--jwt-jwks-ca FILE` | `KIT_JWT_JWKS_CA` | the system's CAs (for an `https://` JWKS URL) |
/// | `--jwt-issuer ISS` | `KIT_JWT_ISSUER` | none (any `iss`) |
/// | `--jwt-audience AUD` | `KIT_JWT_AUDIENCE` | none (any `aud`) |
/// | `--jwt-leeway DURATION` | `KIT_JWT_LEEWAY` | `60s` |
/// | `--basic-auth-file FILE` | `KIT_BASIC_AUTH_FILE` | none (`user:argon2-hash [grants]` lines) |
/// | `--api-keys-file FILE` | `KIT_API_KEYS_FILE` | none (`name sha256:HEX [grants]` lines) |
/// | `--api-key-header NAME` | `KIT_API_KEY_HEADER` | `x-api-key` |
/// | `--metrics-auth SCHEMES` | `KIT_METRICS_AUTH` | none: `/metrics` is open |
///
/// One of the three `--jwt-*` key sources makes the `jwt` authenticator;
/// `--basic-auth-file` makes `basic`, `--api-keys-file` makes `api_key`;
/// `mtls` is always there. `/health` is never guarded.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct AuthConfig {
    /// HS256 tokens: the shared secret's file (a trailing newline is not part of it).
    #[arg(
        long,
        env = "KIT_JWT_SECRET_FILE",
        value_name = "FILE",
        help = "JWT: verify HS256 tokens with the secret in FILE"
    )]
    pub jwt_secret_file: Option<PathBuf>,
    /// RS256/ES256 tokens: the public key's PEM file.
    #[arg(
        long,
        env = "KIT_JWT_PUBLIC_KEY_FILE",
        value_name = "FILE",
        help = "JWT: verify RS256/ES256 tokens with the public key (PEM) in FILE"
    )]
    pub jwt_public_key_file: Option<PathBuf>,
    /// RS256/ES256 tokens: keys from this JWKS document.
    #[arg(
        long,
        env = "KIT_JWT_JWKS_URL",
        value_name = "URL",
        help = "JWT: verify RS256/ES256 tokens with the keys of this JWKS URL (cached, refetched for unknown kids)"
    )]
    pub jwt_jwks_url: Option<String>,
    /// The CA that signs an `https://` JWKS server's certificate.
    #[arg(
        long,
        env = "KIT_JWT_JWKS_CA",
        value_name = "FILE",
        help = "JWT: trust this CA (PEM) for an https:// JWKS URL [default: the system's CAs]"
    )]
    pub jwt_jwks_ca: Option<PathBuf>,
    /// Tokens must come from this issuer.
    #[arg(
        long,
        env = "KIT_JWT_ISSUER",
        value_name = "ISS",
        help = "JWT: required iss"
    )]
    pub jwt_issuer: Option<String>,
    /// Tokens must be for this audience.
    #[arg(
        long,
        env = "KIT_JWT_AUDIENCE",
        value_name = "AUD",
        help = "JWT: required aud"
    )]
    pub jwt_audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "KIT_JWT_LEEWAY", value_name = "DURATION", value_parser = parse_duration, help = "JWT: clock skew allowed on exp/nbf [default: 60s]")]
    pub jwt_leeway: Option<Duration>,
    /// HTTP basic users.
    #[arg(
        long,
        env = "KIT_BASIC_AUTH_FILE",
        value_name = "FILE",
        help = "HTTP basic: users file, `user:argon2-hash [scope:X role:Y]` per line (kit hash-password makes hashes)"
    )]
    pub basic_auth_file: Option<PathBuf>,
    /// API keys.
    #[arg(
        long,
        env = "KIT_API_KEYS_FILE",
        value_name = "FILE",
        help = "API keys: `name sha256:HEX [scope:X role:Y]` per line"
    )]
    pub api_keys_file: Option<PathBuf>,
    /// The header API keys come in.
    #[arg(
        long,
        env = "KIT_API_KEY_HEADER",
        value_name = "NAME",
        help = "API keys: the header they come in [default: x-api-key]"
    )]
    pub api_key_header: Option<String>,
    /// Who may read `/metrics`.
    #[arg(
        long,
        env = "KIT_METRICS_AUTH",
        value_name = "SCHEMES",
        help = "Guard /metrics with these authenticators, e.g. `basic` or `jwt | api_key` [default: open]"
    )]
    pub metrics_auth: Option<String>,
}

impl AuthConfig {
    /// The authenticators these settings make (files are read now).
    pub fn authenticators(&self) -> Result<Authenticators, Error> {
        let mut auth = Authenticators::new();
        if let Some(jwt) = self.jwt()? {
            auth.insert("jwt", jwt);
        }
        if let Some(path) = &self.basic_auth_file {
            auth.insert("basic", BasicAuth::from_file(path)?);
        }
        if let Some(path) = &self.api_keys_file {
            let mut keys = ApiKeys::from_file(path)?;
            if let Some(header) = &self.api_key_header {
                let name = http::HeaderName::try_from(header.trim()).map_err(|_| {
                    Error::invalid_argument(format!(
                        "--api-key-header `{header}` is not a header name"
                    ))
                })?;
                keys = keys.header(name);
            }
            auth.insert("api_key", keys);
        }
        Ok(auth)
    }

    /// The schemes guarding `/metrics`, checked against `known`.
    pub(crate) fn metrics_schemes(&self, known: &Authenticators) -> Result<Vec<String>, Error> {
        let Some(text) = self.metrics_auth.as_deref() else {
            return Ok(Vec::new());
        };
        let schemes: Vec<String> = text
            .split(['|', ','])
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s != "none")
            .collect();
        if let Some(unknown) = schemes.iter().find(|s| !known.contains(s)) {
            return Err(Error::invalid_argument(format!(
                "--metrics-auth names `{unknown}`, which this server does not have (it has: {})",
                known.names().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(schemes)
    }

    fn jwt(&self) -> Result<Option<Jwt>, Error> {
        let sources = [
            self.jwt_secret_file.is_some(),
            self.jwt_public_key_file.is_some(),
            self.jwt_jwks_url.is_some(),
        ];
        let jwt = match sources.iter().filter(|s| **s).count() {
            0 => return Ok(None),
            1 => {
                if let Some(path) = &self.jwt_secret_file {
                    let secret = read(path, "--jwt-secret-file")?;
                    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
                    let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
                    if secret.len() < 32 {
                        return Err(Error::invalid_argument(format!(
                            "--jwt-secret-file {}: an HS256 secret needs at least 32 bytes",
                            path.display()
                        )));
                    }
                    Jwt::hs256(secret)
                } else if let Some(path) = &self.jwt_public_key_file {
                    let pem = read(path, "--jwt-public-key-file")?;
                    Jwt::rs256_pem(&pem)
                        .or_else(|_| Jwt::es256_pem(&pem))
                        .map_err(|_| {
                            Error::invalid_argument(format!(
                                "--jwt-public-key-file {}: not an RSA or P-256 public key in PEM",
                                path.display()
                            ))
                        })?
                } else {
                    let url = self.jwt_jwks_url.as_deref().unwrap_or_default();
                    match &self.jwt_jwks_ca {
                        Some(ca) => Jwt::jwks_tls(url, &crate::tls::ClientTls::new().ca_file(ca))?,
                        None => Jwt::jwks(url)?,
                    }
                }
            }
            _ => {
                return Err(Error::invalid_argument(
                    "give one of --jwt-secret-file, --jwt-public-key-file, --jwt-jwks-url",
                ))
            }
        };
        let mut jwt = jwt.leeway(self.jwt_leeway.unwrap_or(Duration::from_secs(60)));
        if let Some(issuer) = &self.jwt_issuer {
            jwt = jwt.issuer(issuer);
        }
        if let Some(audience) = &self.jwt_audience {
            jwt = jwt.audience(audience);
        }
        Ok(Some(jwt))
    }
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::invalid_argument(format!("{flag} {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_authenticators_or_say_what_is_wrong() {
        let none = AuthConfig::default().authenticators().unwrap();
        assert_eq!(none.names().collect::<Vec<_>>(), ["mtls"]);
        let dir = std::env::temp_dir().join(format!("kit-authcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "tooshort\n").unwrap();
        let config = AuthConfig {
            jwt_secret_file: Some(short),
            ..AuthConfig::default()
        };
        let e = config.authenticators().unwrap_err();
        assert!(e.message().contains("at least 32 bytes"), "{}", e.message());
        let long = dir.join("long");
        std::fs::write(&long, "0123456789abcdef0123456789abcdef\n").unwrap();
        let config = AuthConfig {
            jwt_secret_file: Some(long),
            metrics_auth: Some("jwt | basic".into()),
            ..AuthConfig::default()
        };
        let auth = config.authenticators().unwrap();
        assert!(auth.contains("jwt"));
        let e = config.metrics_schemes(&auth).unwrap_err();
        assert!(e.message().contains("`basic`"), "{}", e.message());
        let two = AuthConfig {
            jwt_jwks_url: Some("http://127.0.0.1:1/jwks".into()),
            jwt_public_key_file: Some(dir.join("x")),
            ..AuthConfig::default()
        };
        assert!(two.authenticators().is_err());
    }

    /// What `auth` says of a request with these headers.
    async fn verdict(
        auth: &Authenticators,
        scheme: &str,
        headers: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(http::HeaderName::try_from(*k).unwrap(), v.parse().unwrap());
        }
        let request = crate::auth::AuthRequest::new(&map, None);
        match auth.check_schemes(&[scheme], &[], &request).await {
            crate::auth::Verdict::Allowed(_) => Ok(()),
            crate::auth::Verdict::Refused(e, _) => Err(e.message().to_owned()),
        }
    }

    #[tokio::test]
    async fn the_api_key_header_and_the_leeway_flags_apply() {
        let dir = std::env::temp_dir().join(format!("kit-authflags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("keys");
        std::fs::write(&keys, format!("ci {}\n", ApiKeys::digest("k1"))).unwrap();
        let config = AuthConfig {
            api_keys_file: Some(keys),
            api_key_header: Some("x-token".into()),
            ..AuthConfig::default()
        };
        let auth = config.authenticators().unwrap();
        assert_eq!(
            verdict(&auth, "api_key", &[("x-token", "k1")]).await,
            Ok(())
        );
        assert!(verdict(&auth, "api_key", &[("x-api-key", "k1")])
            .await
            .is_err());

        let secret = dir.join("secret");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef").unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &serde_json::json!({"sub": "u", "exp": now - 20}),
            &jsonwebtoken::EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        let bearer = format!("Bearer {token}");
        for (leeway, expected) in [
            (None, Ok(())),
            (
                Some(Duration::from_secs(5)),
                Err("token expired".to_owned()),
            ),
        ] {
            let config = AuthConfig {
                jwt_secret_file: Some(secret.clone()),
                jwt_leeway: leeway,
                ..AuthConfig::default()
            };
            let auth = config.authenticators().unwrap();
            assert_eq!(
                verdict(&auth, "jwt", &[("authorization", &bearer)]).await,
                expected,
                "{leeway:?}"
            );
        }
    }
}
