//! Credential files: one entry per line, `#` comments, errors naming the
//! file and line.

use std::path::Path;

use crate::Error;

/// The entries of credential file `path` (a users or keys file), split
/// into words, each with what to call its errors (`FILE:LINE`).
pub(crate) fn entries(path: &Path, what: &str) -> Result<Vec<(String, Vec<String>)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid_argument(format!("cannot read {what} {}: {e}", path.display()))
    })?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(n, line)| (n, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            let at = format!("{}:{}", path.display(), n + 1);
            (at, line.split_whitespace().map(str::to_owned).collect())
        })
        .collect())
}

/// `error`, told at `at`.
pub(crate) fn at(at: &str, error: &Error) -> Error {
    Error::invalid_argument(format!("{at}: {}", error.message()))
}
