//! Names across languages: Rust's snake_case methods become protobuf's
//! PascalCase methods and SCREAMING_CASE enum values.

/// `get_item` -> `GetItem`.
pub(crate) fn pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// `StringService` -> `string_service`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `HttpStatus` -> `HTTP_STATUS`.
pub(crate) fn screaming_case(name: &str) -> String {
    snake_case(name).to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(snake_case("StringService"), "string_service");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Strings"), "strings");
        assert_eq!(snake_case("V2Api"), "v2_api");
        assert_eq!(pascal_case("get_item"), "GetItem");
        assert_eq!(pascal_case("uppercase"), "Uppercase");
        assert_eq!(screaming_case("HttpStatus"), "HTTP_STATUS");
    }
}
