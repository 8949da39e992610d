//! JWT bearer tokens as the `jwt` authenticator reads them (HS256, issuer
//! `kit-fuzz`, audience `fuzz-aud`, leeway 60 s).
//!
//! Raw inputs (first byte even): any text as a token. Whatever kit says,
//! it must not panic; a refusal is UNAUTHENTICATED with one of the fixed
//! reasons and never repeats the token; an acceptance needs three
//! base64url segments, `alg: HS256` and an HMAC-SHA256 signature that
//! verifies (recomputed here with ring).
//!
//! Structured inputs (first byte odd): the bytes choose a header and
//! claims (algorithm, `kid`, `exp`/`nbf` as numbers, floats, strings or
//! missing, `iss`/`aud` right, wrong, in arrays, of the wrong type or
//! missing, `sub`, `scope`), the target signs them with the secret (or
//! spoils the signature), and the reference below says what RFC 7519 with
//! kit's documented checks decides: kit must decide the same, with the
//! same reason, and name the same subject and scopes.
#![no_main]

use std::time::{SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const SECRET: &[u8] = b"kit-fuzz-secret-0123456789abcdef";
const ISSUER: &str = "kit-fuzz";
const AUDIENCE: &str = "fuzz-aud";
const LEEWAY: i64 = 60;

const REASONS: &[&str] = &[
    "malformed bearer token",
    "token signature does not verify",
    "token expired",
    "token not valid yet",
    "token from another issuer",
    "token for another audience",
    "token has no expiry",
    "token names no issuer",
    "token names no audience",
    "token algorithm not accepted",
];

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn sign(message: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    ring::hmac::sign(&key, message.as_bytes()).as_ref().to_vec()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A NumericDate as jsonwebtoken coerces it: a u64, or a finite
/// non-negative float below u64::MAX, rounded.
fn numeric(v: &Value) -> Option<i128> {
    if let Some(n) = v.as_u64() {
        return Some(i128::from(n));
    }
    match v.as_f64() {
        Some(f) if v.is_f64() && f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
            Some(f.round() as i128)
        }
        _ => None,
    }
}

/// `iss`/`aud`: a string or an array of strings; whether it names `want`.
fn names(v: &Value, want: &str) -> Option<bool> {
    match v {
        Value::String(s) => Some(s == want),
        Value::Array(items) => {
            let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            strings.map(|s| s.contains(&want))
        }
        _ => None,
    }
}

/// What RFC 7519 plus kit's documented checks decide for a correctly
/// signed HS256 token with these claims: Ok(subject, scopes) or the
/// reasons kit may give (several when more than one required claim is
/// missing: which one is reported first is unspecified).
fn reference(claims: &Map<String, Value>) -> Result<(String, Vec<String>), Vec<&'static str>> {
    let exp = claims.get("exp").and_then(numeric);
    let iss = claims.get("iss").and_then(|v| names(v, ISSUER));
    let aud = claims.get("aud").and_then(|v| names(v, AUDIENCE));
    let mut missing = Vec::new();
    if exp.is_none() {
        missing.push("token has no expiry");
    }
    if iss.is_none() {
        missing.push("token names no issuer");
    }
    if aud.is_none() {
        missing.push("token names no audience");
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    let now = i128::from(now());
    if exp.unwrap_or_default() < now - i128::from(LEEWAY) {
        return Err(vec!["token expired"]);
    }
    if let Some(nbf) = claims.get("nbf").and_then(numeric) {
        if nbf > now + i128::from(LEEWAY) {
            return Err(vec!["token not valid yet"]);
        }
    }
    if iss == Some(false) {
        return Err(vec!["token from another issuer"]);
    }
    if aud == Some(false) {
        return Err(vec!["token for another audience"]);
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut scopes: Vec<String> = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    scopes.sort();
    scopes.dedup();
    Ok((subject, scopes))
}

/// Picks among `options` with the next byte.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        options[*first as usize % options.len()].clone()
    }
}

fn time_claim(choice: u8, now: i64) -> Option<Value> {
    // Offsets at least 30 s from the leeway's edge: the clock may tick.
    match choice {
        0 => None,
        1 => Some(json!(now + 3600)),
        2 => Some(json!(now + 30)),
        3 => Some(json!(now - 30)),
        4 => Some(json!(now - 120)),
        5 => Some(json!(now - 3600)),
        6 => Some(json!((now + 120) as f64 + 0.4)),
        7 => Some(json!((now - 120) as f64)),
        8 => Some(json!(format!("{}", now + 3600))),
        9 => Some(json!(-5)),
        10 => Some(json!(1e30)),
        11 => Some(Value::Null),
        _ => Some(json!(now + 120)),
    }
}

fn name_claim(choice: u8, right: &str) -> Option<Value> {
    match choice {
        0 => None,
        1 => Some(json!(right)),
        2 => Some(json!("someone-else")),
        3 => Some(json!(["someone-else", right])),
        4 => Some(json!(["someone-else"])),
        5 => Some(json!(7)),
        6 => Some(json!([right, 7])),
        7 => Some(json!([])),
        8 => Some(Value::Null),
        _ => Some(json!(right)),
    }
}

fn structured(data: &[u8]) {
    let mut c = Choices(data);
    let now = now();
    let alg = c.pick(&["HS256", "HS256", "HS256", "HS384", "RS256", "none", "hs256"]);
    let kid = c.pick(&[None, Some(json!("k1")), Some(json!(3))]);
    let exp = time_claim(c.pick(&(0..14).collect::<Vec<u8>>()), now);
    let nbf = time_claim(c.pick(&(0..14).collect::<Vec<u8>>()), now);
    let iss = name_claim(c.pick(&(0..10).collect::<Vec<u8>>()), ISSUER);
    let aud = name_claim(c.pick(&(0..10).collect::<Vec<u8>>()), AUDIENCE);
    let spoil = c.pick(&[false, false, false, true]);
    let text = String::from_utf8_lossy(c.0).into_owned();
    let (sub, scope) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid.clone() {
        header["kid"] = kid;
    }
    let mut claims = Map::new();
    for (name, value) in [("exp", exp), ("nbf", nbf), ("iss", iss), ("aud", aud)] {
        if let Some(value) = value {
            claims.insert(name.into(), value);
        }
    }
    claims.insert("sub".into(), json!(sub));
    claims.insert("scope".into(), json!(scope));
    let message = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let mut signature = sign(&message);
    if spoil {
        signature[0] ^= 1;
    }
    let token = format!("{message}.{}", b64url(&signature));
    let got = kit_runtime::fuzzing::jwt_hs256(&token, SECRET, ISSUER, AUDIENCE);

    let expected: Result<(String, Vec<String>), Vec<&str>> = if matches!(alg, "none" | "hs256")
        || kid.as_ref().is_some_and(|k| !k.is_string())
    {
        Err(vec!["malformed bearer token"])
    } else if alg != "HS256" {
        Err(vec!["token algorithm not accepted"])
    } else if spoil {
        Err(vec!["token signature does not verify"])
    } else {
        reference(&claims)
    };
    match (got, expected) {
        (Ok(p), Ok((subject, scopes))) => {
            assert_eq!(p.subject(), subject);
            assert_eq!(p.scopes().iter().cloned().collect::<Vec<_>>(), scopes);
            assert_eq!(p.scheme(), "jwt");
        }
        (Err(e), Err(reasons)) => {
            assert!(
                reasons.contains(&e.message()),
                "kit refused with {:?}, expected one of {reasons:?}\nclaims {claims:?}",
                e.message()
            );
        }
        (got, expected) => panic!(
            "kit: {:?}, reference: {expected:?}\nheader {header}\nclaims {claims:?}",
            got.map(|p| p.subject().to_owned()).map_err(|e| e.message().to_owned())
        ),
    }
}

fn raw(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    match kit_runtime::fuzzing::jwt_hs256(token, SECRET, ISSUER, AUDIENCE) {
        Err(e) => {
            assert_eq!(e.code(), kit::Code::Unauthenticated);
            assert!(REASONS.contains(&e.message()), "reason {:?}", e.message());
        }
        Ok(_) => {
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3, "accepted a token that is not three segments");
            let message = format!("{}.{}", parts[0], parts[1]);
            assert_eq!(
                b64url(&sign(&message)),
                parts[2],
                "accepted a signature that does not verify"
            );
            assert!(parts[0].contains("eyJ"), "the header is base64url JSON");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => structured(rest),
        Some((_, rest)) => raw(rest),
        None => {}
    }
});
