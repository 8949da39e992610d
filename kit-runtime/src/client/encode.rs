//! Encoding a call's arguments: path segments, query parameters, JSON body.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::url::UrlCodec;
use crate::Error;

/// Everything but the RFC 3986 unreserved characters is escaped.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `value` to `path` as one percent-encoded segment.
#[doc(hidden)]
pub fn push_path_param<T>(path: &mut String, codec: UrlCodec<T>, value: &T) -> Result<(), Error> {
    match codec.write(value)?.as_slice() {
        [one] => {
            path.extend(utf8_percent_encode(one, COMPONENT));
            Ok(())
        }
        _ => Err(Error::invalid_argument(
            "a path parameter must be exactly one value",
        )),
    }
}

/// Appends `?name=value&...` pairs to a path.
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

    /// Adds the parameter `name`: nothing for `None`, once per element of
    /// a sequence.
    pub fn push<T>(&mut self, name: &str, codec: UrlCodec<T>, value: &T) -> Result<(), Error> {
        for v in codec.write(value)? {
            self.path.push(if self.first { '?' } else { '&' });
            self.first = false;
            self.path.extend(utf8_percent_encode(name, COMPONENT));
            self.path.push('=');
            self.path.extend(utf8_percent_encode(&v, COMPONENT));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::url;

    #[test]
    fn paths_and_queries_are_percent_encoded() {
        let mut path = String::from("/count/");
        push_path_param(&mut path, url::<String>(), &"a b/c".to_string()).unwrap();
        assert_eq!(path, "/count/a%20b%2Fc");
        let mut q = QueryWriter::new(&mut path);
        q.push("q", url::<String>(), &"a&b".to_string()).unwrap();
        q.push("n", url::<Option<u32>>(), &None).unwrap();
        q.push("tag", url::<Vec<u32>>(), &vec![1, 2]).unwrap();
        assert_eq!(path, "/count/a%20b%2Fc?q=a%26b&tag=1&tag=2");
    }
}
