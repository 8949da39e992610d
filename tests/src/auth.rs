//! A service guarded every way kit guards endpoints, and helpers that make
//! credentials: JWTs (HS256, and RS256/ES256 keys with their JWKS), users
//! with argon2 hashes, API keys.

use std::sync::{Arc, OnceLock};

use kit::client::credentials::Forward;
use kit::{Context, Stream};
use serde::{Deserialize, Serialize};

/// Who the service saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Caller {
    pub scheme: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
}

impl Caller {
    fn current() -> Caller {
        let ctx = Context::current();
        match ctx.principal() {
            Some(p) => Caller {
                scheme: p.scheme().to_owned(),
                subject: p.subject().to_owned(),
                scopes: p.scopes().iter().cloned().collect(),
                roles: p.roles().iter().cloned().collect(),
            },
            None => Caller::default(),
        }
    }
}

/// Secrets, kept by a vault that checks who asks.
#[derive(Clone, Default)]
pub struct Vault {
    /// Where `relay` calls `whoami` (this service's own URL).
    pub relay_to: Arc<OnceLock<String>>,
}

#[kit::service(name = "vault", package = "vault.v1", auth = "jwt | api_key")]
impl Vault {
    /// The caller, as the authenticator saw it.
    #[endpoint(http = "GET /whoami", grpc)]
    pub async fn whoami(&self) -> Caller {
        Caller::current()
    }

    /// Only for callers holding the `secrets:write` scope.
    #[endpoint(http = "POST /secrets", grpc, requires = "scope:secrets:write")]
    pub async fn store(&self, name: String) -> String {
        format!("stored {name}")
    }

    /// Only for users of HTTP basic with the admin role.
    #[endpoint(http = "GET /admin", grpc, auth = "basic", requires = "role:admin")]
    pub async fn admin(&self) -> Caller {
        Caller::current()
    }

    /// For callers with a verified client certificate.
    #[endpoint(http = "GET /peer", grpc, auth = "mtls")]
    pub async fn peer(&self) -> Caller {
        Caller::current()
    }

    /// Anyone.
    #[endpoint(http = "GET /version", grpc, public)]
    pub async fn version(&self) -> String {
        "1".into()
    }

    /// Calls `whoami` on `relay_to` with the caller's own credentials:
    /// the caller the next hop saw.
    #[endpoint(http = "GET /relay", grpc)]
    pub async fn relay(&self) -> Result<Caller, kit::Error> {
        let url = self
            .relay_to
            .get()
            .cloned()
            .or_else(|| std::env::var("VAULT_RELAY_TO").ok())
            .ok_or_else(|| kit::Error::failed_precondition("no relay URL"))?;
        let client = VaultClient::builder()
            .base_url(url)
            .credentials(Forward::caller())
            .build()?;
        client.whoami().await
    }

    /// 0..n, for callers who may read.
    #[endpoint(http = "GET /count/{n}", grpc)]
    pub async fn count(&self, n: u32) -> impl Stream<Item = u32> {
        futures_util::stream::iter(0..n)
    }
}

/// Test credentials.
pub mod creds {
    use std::process::Command;
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use ring::signature::KeyPair;
    use serde_json::{json, Value};

    /// The HS256 secret the tests' servers use.
    pub const SECRET: &str = "kit-test-secret-0123456789abcdef0123456789";

    pub fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    /// Claims for `sub` with `scope`, valid for a minute, from issuer
    /// `kit-tests` for audience `vault`; `extra` overrides.
    pub fn claims(sub: &str, scope: &str, extra: Value) -> Value {
        let mut c = json!({"sub": sub, "scope": scope, "iss": "kit-tests", "aud": "vault",
            "exp": now() + 60, "iat": now()});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(extra.clone());
        }
        c
    }

    /// An HS256 token signed with [`SECRET`].
    pub fn hs256(claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("sign")
    }

    /// A signing key and its public JWK.
    pub struct SigningKey {
        pub kid: String,
        pub algorithm: Algorithm,
        key: EncodingKey,
        pub jwk: Value,
        public_pem: String,
    }

    impl SigningKey {
        /// A fresh P-256 key (ES256).
        pub fn es256(kid: &str) -> SigningKey {
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &rng,
            )
            .expect("keygen");
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8.as_ref(),
                &rng,
            )
            .expect("key");
            let public = pair.public_key().as_ref();
            let (x, y) = (&public[1..33], &public[33..65]);
            // SubjectPublicKeyInfo for id-ecPublicKey on prime256v1.
            let mut spki = vec![
                0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
            ];
            spki.extend_from_slice(public);
            SigningKey {
                kid: kid.into(),
                algorithm: Algorithm::ES256,
                key: EncodingKey::from_ec_der(pkcs8.as_ref()),
                jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": b64url(x), "y": b64url(y)}),
                public_pem: pem("PUBLIC KEY", &spki),
            }
        }

        /// A fresh 2048-bit RSA key (RS256), made by `openssl`.
        pub fn rs256(kid: &str) -> SigningKey {
            let pem = Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .output()
                .expect("openssl runs");
            assert!(pem.status.success(), "openssl genpkey failed");
            let text = String::from_utf8(openssl(&["rsa", "-noout", "-modulus"], &pem.stdout))
                .expect("utf8");
            let hex = text.trim().trim_start_matches("Modulus=").to_owned();
            let modulus: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            let public_pem =
                String::from_utf8(openssl(&["pkey", "-pubout"], &pem.stdout)).expect("utf8");
            SigningKey {
                public_pem,
                kid: kid.into(),
                algorithm: Algorithm::RS256,
                key: EncodingKey::from_rsa_pem(&pem.stdout).expect("rsa pem"),
                jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": b64url(&modulus), "e": "AQAB"}),
            }
        }

        /// The public key in PEM (SubjectPublicKeyInfo), as
        /// `--jwt-public-key-file` takes it.
        pub fn public_pem(&self) -> String {
            self.public_pem.clone()
        }

        /// A token with `claims`, naming this key's `kid`.
        pub fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(self.algorithm);
            header.kid = Some(self.kid.clone());
            encode(&header, claims, &self.key).expect("sign")
        }
    }

    /// `openssl ARGS` reading `input`: its output.
    fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("openssl runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to openssl");
        let out = child.wait_with_output().expect("openssl finishes");
        assert!(out.status.success(), "openssl {args:?} failed");
        out.stdout
    }

    /// PEM of `der` with `label`.
    fn pem(label: &str, der: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                b64.push(if i <= chunk.len() {
                    char::from(A[((n >> (18 - 6 * i)) & 63) as usize])
                } else {
                    '='
                });
            }
        }
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// Base64url without padding.
    pub fn b64url(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    /// `name sha256:HEX grants` for an API keys file.
    pub fn api_key_line(name: &str, key: &str, grants: &str) -> String {
        let d = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("{name} sha256:{hex} {grants}")
    }
}
