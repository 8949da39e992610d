//! `kit hash-password` and `kit hash-api-key`: the lines of a server's
//! users and API keys files, made from a secret read on stdin (so it is
//! not in the shell history or the process list).

use std::io::Read;
use std::process::ExitCode;

use crate::Failure;

/// The secret on stdin, without its trailing newline.
fn read_secret() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?;
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err(Failure::new("no secret on stdin"));
    }
    Ok(secret.to_owned())
}

/// Prints `USER:HASH` (argon2id) for `--basic-auth-file`.
pub(crate) fn hash_password(user: &str) -> Result<ExitCode, Failure> {
    if user.is_empty() || user.contains(':') || user.contains(char::is_whitespace) {
        return Err(Failure::new(format!(
            "user name `{user}` is empty or has ':' or spaces"
        )));
    }
    let password = read_secret()?;
    println!("{user}:{}", kit::auth::hash_password(&password));
    Ok(ExitCode::SUCCESS)
}

/// Prints `NAME sha256:HEX` for `--api-keys-file`.
pub(crate) fn hash_api_key(name: &str) -> Result<ExitCode, Failure> {
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(Failure::new(format!(
            "key name `{name}` is empty or has spaces"
        )));
    }
    let key = read_secret()?;
    println!("{name} {}", kit::auth::ApiKeys::digest(&key));
    Ok(ExitCode::SUCCESS)
}
