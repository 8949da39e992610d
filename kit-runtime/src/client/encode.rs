//! Encoding a call's arguments: path segments, query parameters, JSON body.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::ParamValue;

/// Everything but the RFC 3986 unreserved characters is escaped.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `value` to `path` as one percent-encoded segment.
///
/// ```
/// let mut path = String::from("/count/");
/// kit_runtime::client::push_path_param(&mut path, &"a b/c".to_string());
/// assert_eq!(path, "/count/a%20b%2Fc");
/// ```
#[doc(hidden)]
pub fn push_path_param<T: ParamValue>(path: &mut String, value: &T) {
    path.extend(utf8_percent_encode(&value.to_param(), COMPONENT));
}

/// Appends `?name=value&...` pairs to a path.
///
/// ```
/// let mut path = String::from("/search");
/// let mut q = kit_runtime::client::QueryWriter::new(&mut path);
/// q.push("q", &"a&b".to_string());
/// q.push("n", &3u32);
/// assert_eq!(path, "/search?q=a%26b&n=3");
/// ```
#[doc(hidden)]
pub struct QueryWriter<'a> {
    path: &'a mut String,
    first: bool,
}

impl<'a> QueryWriter<'a> {
    /// Starts the query string of `path`.
    pub fn new(path: &'a mut String) -> QueryWriter<'a> {
        QueryWriter { path, first: true }
    }

    /// Adds one parameter.
    pub fn push<T: ParamValue>(&mut self, name: &str, value: &T) {
        self.path.push(if self.first { '?' } else { '&' });
        self.first = false;
        self.path.extend(utf8_percent_encode(name, COMPONENT));
        self.path.push('=');
        self.path
            .extend(utf8_percent_encode(&value.to_param(), COMPONENT));
    }
}
