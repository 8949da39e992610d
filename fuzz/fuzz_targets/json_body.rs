//! `BodyFields::parse`, the JSON body splitter of multi-argument HTTP
//! endpoints, against serde_json: a body is accepted exactly when it is
//! one JSON object (checked syntactically with `RawValue`, since the
//! splitter does not decode the values it skips; like serde_json's
//! `from_slice`, it does not check that skipped strings are UTF-8), and
//! each named field reads as serde_json reads it (the last of duplicate
//! keys; a missing field as `null`). Refusals are INVALID_ARGUMENT.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::Value;

const NAMES: &[&str] = &["s", "n", "opt", "\u{e9}"];

fuzz_target!(|data: &[u8]| {
    let ours = kit_runtime::fuzzing::body_fields::<Value>(data, NAMES);
    // serde_json's `from_slice` (and so the splitter, like axum's `Json`)
    // does not check that strings it skips are UTF-8: judge the structure
    // with invalid bytes replaced.
    let text = String::from_utf8_lossy(data);
    let one_object = serde_json::from_str::<&RawValue>(&text)
        .is_ok_and(|raw| raw.get().trim_start().starts_with('{'));
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(object)) => {
            let fields = ours.as_ref().expect("a JSON object is accepted");
            for (name, field) in NAMES.iter().zip(fields) {
                let expected = object.get(*name).cloned().unwrap_or(Value::Null);
                assert_eq!(field.as_ref().ok(), Some(&expected), "{name}");
            }
        }
        Ok(_) => assert!(
            ours.is_err(),
            "a JSON value that is not an object is refused"
        ),
        // Out-of-range numbers, lone surrogates or deep nesting where the
        // splitter only skips or slices.
        Err(_) => assert!(
            ours.is_err() || one_object,
            "accepted what is not one JSON object"
        ),
    }
    if !one_object {
        assert!(ours.is_err(), "accepted what is not one JSON object");
    }
    if let Err(e) = ours {
        assert_eq!(e.code(), kit::Code::InvalidArgument, "{e}");
    }
});
