//! Values that travel in a URL: path segments and query parameters.

/// A type that can be bound from a URL path segment or a query parameter,
/// and written back into one by the generated client.
///
/// Implemented for strings, `char`, `bool`, the integer and float types.
/// Implement it for your own identifiers:
///
/// ```
/// struct UserId(u64);
/// impl kit_runtime::ParamValue for UserId {
///     fn from_param(s: &str) -> Result<Self, String> {
///         s.strip_prefix("u-").and_then(|n| n.parse().ok()).map(UserId).ok_or_else(|| "expected u-<number>".into())
///     }
///     fn to_param(&self) -> String { format!("u-{}", self.0) }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be bound from a URL path segment or query parameter",
    label = "this argument is taken from the URL",
    note = "path and query arguments must implement `kit::ParamValue` (strings, integers, floats, bool, char); use a POST/PUT/PATCH route to send it in the JSON body, or implement `kit::ParamValue` for it"
)]
pub trait ParamValue: Sized {
    /// Parses the percent-decoded text of a segment or parameter.
    fn from_param(s: &str) -> Result<Self, String>;
    /// The text to send (the client percent-encodes it).
    fn to_param(&self) -> String;
}

macro_rules! via_from_str {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn from_param(s: &str) -> Result<Self, String> {
                s.parse::<$t>().map_err(|e| e.to_string())
            }
            fn to_param(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

via_from_str!(
    String, char, bool, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_scalars() {
        assert_eq!(u32::from_param("42"), Ok(42));
        assert!(u32::from_param("-1").is_err());
        assert_eq!(bool::from_param("true"), Ok(true));
        assert_eq!(String::from_param("a b/c"), Ok("a b/c".to_string()));
        assert_eq!(1.5f64.to_param(), "1.5");
    }
}
