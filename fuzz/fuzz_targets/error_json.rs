//! `Error::from_json`, how a client reads an AIP-193 error body
//! (`{"error": {"code", "status", "message", "details"}}`), against
//! serde_json: what it accepts has that shape, with a canonical status
//! name, and its fields are what the body says. Also an error built from
//! the input (a code, a message) survives `to_json` then `from_json`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use kit::{Code, Error};

fuzz_target!(|data: &[u8]| {
    if let Some(err) = Error::from_json(data) {
        // Like serde_json's `from_slice`, `from_json` does not check that
        // strings it skips are UTF-8: compare with invalid bytes replaced.
        let value: Value =
            serde_json::from_str(&String::from_utf8_lossy(data)).expect("accepted bodies are JSON");
        let status = &value["error"];
        assert_eq!(status["status"].as_str(), Some(err.code().as_str()));
        assert_eq!(status["message"].as_str(), Some(err.message()));
        assert!(status["code"]
            .as_u64()
            .is_some_and(|c| c <= u64::from(u16::MAX)));
        match status.get("details") {
            None => assert!(err.details().is_empty()),
            Some(details) => assert_eq!(details.as_array().map(Vec::as_slice), Some(err.details())),
        }
        assert_eq!(
            Error::from_json(&err.to_json()),
            Some(err.clone()),
            "round trip"
        );
    }
    if let Some((&code, rest)) = data.split_first() {
        let code = Code::ALL[usize::from(code) % Code::ALL.len()];
        if code != Code::Ok {
            let mut err = Error::new(code, String::from_utf8_lossy(rest));
            if let Ok(detail) = serde_json::from_slice::<Value>(rest) {
                err = err.with_detail(detail);
            }
            assert_eq!(
                Error::from_json(&err.to_json()),
                Some(err.clone()),
                "{err:#?}"
            );
        }
    }
});
