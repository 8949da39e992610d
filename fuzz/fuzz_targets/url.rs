//! URL arguments: path segments and query parameters as the generated
//! HTTP handlers read them. The first input byte picks a check:
//! - scalars, `Option` and `Vec` read from raw values against `str::parse`,
//!   and written then read back;
//! - a query string through `HttpRequest::query` against
//!   `form_urlencoded`;
//! - a path through axum's router and `HttpRequest::path` against
//!   percent-decoding the segments.
//!
//! A malformed value is always the caller's INVALID_ARGUMENT.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};

use kit_runtime::fuzzing::{path, query, url_read, url_write};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Fast,
    Slow,
    #[serde(rename = "très")]
    Tres,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct UserId(u64);

fn caller_error<T>(r: &Result<T, kit::Error>) {
    if let Err(e) = r {
        assert_eq!(e.code(), kit::Code::InvalidArgument, "{e}");
    }
}

/// `T` read from one value agrees with `str::parse`, and what a client
/// writes for it reads back the same.
fn scalar<T>(text: &str, same: impl Fn(&T, &T) -> bool)
where
    T: std::str::FromStr + Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let ours = url_read::<T>(&[text]);
    match (ours, text.parse::<T>()) {
        (Ok(a), Ok(b)) => {
            assert!(same(&a, &b), "{text:?}: {a:?} != {b:?}");
            let written = url_write(&a).expect("a scalar can be written");
            let refs: Vec<&str> = written.iter().map(String::as_str).collect();
            let back = url_read::<T>(&refs).expect("what kit writes, kit reads");
            assert!(
                same(&a, &back),
                "{text:?}: {a:?} written as {written:?} reads {back:?}"
            );
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("{text:?}: kit {a:?}, str::parse {:?}", b.is_ok()),
    }
}

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

fn values(text: &str) {
    scalar::<u8>(text, eq);
    scalar::<i32>(text, eq);
    scalar::<u64>(text, eq);
    scalar::<i128>(text, eq);
    scalar::<bool>(text, eq);
    scalar::<char>(text, eq);
    scalar::<String>(text, eq);
    scalar::<f64>(text, |a: &f64, b: &f64| {
        a == b || (a.is_nan() && b.is_nan())
    });
    scalar::<f32>(text, |a: &f32, b: &f32| {
        a == b || (a.is_nan() && b.is_nan())
    });

    let mode = url_read::<Mode>(&[text]);
    let expected = match text {
        "fast" => Some(Mode::Fast),
        "slow" => Some(Mode::Slow),
        "très" => Some(Mode::Tres),
        _ => None,
    };
    assert_eq!(mode.ok(), expected, "{text:?}");
    assert_eq!(
        url_read::<UserId>(&[text]).ok(),
        text.parse().ok().map(UserId)
    );

    // Repeated and optional query parameters: the values split at '&'.
    let many: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('&').collect()
    };
    let list = url_read::<Vec<String>>(&many).expect("strings always read");
    assert_eq!(list, many);
    let numbers = url_read::<Vec<u16>>(&many);
    let expected: Result<Vec<u16>, _> = many.iter().map(|v| v.parse::<u16>()).collect();
    assert_eq!(numbers.ok(), expected.ok(), "{many:?}");
    let option = url_read::<Option<u32>>(&many);
    match many.as_slice() {
        [] => assert_eq!(option, Ok(None)),
        [one] => assert_eq!(option.ok(), one.parse().ok().map(Some), "{one:?}"),
        _ => assert!(option.is_err(), "{many:?}: several values for an Option"),
    }
}

fn query_string(text: &str) {
    let uri = format!("/q?{text}");
    let Some(ours) = query::<Vec<String>>(&uri, "a") else {
        return;
    };
    let parsed: http::Uri = uri.parse().expect("kit parsed it");
    let expected: Vec<String> = form_urlencoded::parse(parsed.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "a")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(ours.expect("strings always read"), expected, "{uri:?}");
    let one = query::<Option<i64>>(&uri, "a").expect("a URI");
    caller_error(&one);
    match expected.as_slice() {
        [] => assert_eq!(one.ok(), Some(None)),
        [v] => assert_eq!(one.ok(), v.parse().ok().map(Some), "{v:?}"),
        _ => assert!(one.is_err()),
    }
    let required = query::<u32>(&uri, "a").expect("a URI");
    caller_error(&required);
}

fn path_segments(text: &str) {
    let uri = format!("/p/{text}");
    let Some((a, b)) = path::<String>(&uri) else {
        return;
    };
    caller_error(&a);
    caller_error(&b);
    let parsed: http::Uri = uri.parse().expect("kit parsed it");
    let raw: Vec<&str> = parsed.path().split('/').collect();
    assert_eq!(raw.len(), 4, "{uri:?} matched /p/{{a}}/{{b}}");
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
    };
    match (decode(raw[2]), decode(raw[3])) {
        (Ok(x), Ok(y)) => {
            assert_eq!(a.ok(), Some(x), "{uri:?}");
            assert_eq!(b.ok(), Some(y), "{uri:?}");
        }
        // axum refuses every parameter when one is not UTF-8.
        _ => assert!(a.is_err() && b.is_err(), "{uri:?}"),
    }
    if let Some((a, b)) = path::<u32>(&uri) {
        caller_error(&a);
        caller_error(&b);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 3 {
        0 => values(text),
        1 => query_string(text),
        _ => path_segments(text),
    }
});
