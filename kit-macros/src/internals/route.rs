//! `http = "METHOD /path/{param}"`.

/// An HTTP method the macro routes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Post => "Post",
            Method::Put => "Put",
            Method::Patch => "Patch",
            Method::Delete => "Delete",
        }
    }

    /// GET and DELETE carry arguments in the query string, the others in a JSON body.
    pub(crate) fn has_body(self) -> bool {
        !matches!(self, Method::Get | Method::Delete)
    }
}

/// One piece of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) segments: Vec<Segment>,
}

impl Route {
    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// Parses `"POST /count/{s}"`.
pub(crate) fn parse_route(text: &str) -> Result<Route, String> {
    let mut parts = text.split_whitespace();
    let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "expected \"METHOD /path\", e.g. \"POST /uppercase\", got \"{text}\""
        ));
    };
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => {
            return Err(format!(
                "unsupported HTTP method `{other}`; expected one of GET, POST, PUT, PATCH, DELETE"
            ))
        }
    };
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("unmatched `}}` in path `{path}`"));
        }
        literal.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in path `{path}`"))?;
        let name = &after[..close];
        if name.starts_with('*') {
            return Err(format!(
                "wildcard parameters like `{{{name}}}` are not supported"
            ));
        }
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(format!(
                "path parameter `{{{name}}}` must be a Rust identifier"
            ));
        }
        if !literal.ends_with('/') {
            return Err(format!(
                "path parameter `{{{name}}}` must be a whole segment"
            ));
        }
        let tail = &after[close + 1..];
        if !(tail.is_empty() || tail.starts_with('/')) {
            return Err(format!(
                "path parameter `{{{name}}}` must be a whole segment"
            ));
        }
        if segments.contains(&Segment::Param(name.to_string())) {
            return Err(format!("path parameter `{{{name}}}` appears twice"));
        }
        segments.push(Segment::Literal(std::mem::take(&mut literal)));
        segments.push(Segment::Param(name.to_string()));
        rest = tail;
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    if path.contains('?') || path.contains('#') {
        return Err(format!(
            "path `{path}` must not contain a query or fragment"
        ));
    }
    Ok(Route {
        method,
        path: path.to_string(),
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_params() {
        let r = parse_route("GET /users/{id}/posts/{post}").unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.params().collect::<Vec<_>>(), ["id", "post"]);
        assert_eq!(
            r.segments,
            vec![
                Segment::Literal("/users/".into()),
                Segment::Param("id".into()),
                Segment::Literal("/posts/".into()),
                Segment::Param("post".into()),
            ]
        );
    }

    #[test]
    fn rejects_bad_routes() {
        for (bad, why) in [
            ("FETCH /x", "unsupported HTTP method"),
            ("POST", "expected \"METHOD /path\""),
            ("POST x", "must start with `/`"),
            ("GET /a/{", "unclosed"),
            ("GET /a/}", "unmatched"),
            ("GET /a/{1x}", "Rust identifier"),
            ("GET /a/x{id}", "whole segment"),
            ("GET /a/{id}x", "whole segment"),
            ("GET /{a}/{a}", "appears twice"),
            ("GET /{*rest}", "wildcard"),
            ("GET /a?b", "query"),
            ("get /a", "unsupported HTTP method"),
        ] {
            let err = parse_route(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
