//! The NDJSON streaming client: each line is `{"result": ITEM}` or the
//! AIP-193 error that ends the stream. The first input byte picks a check:
//! - one line against serde_json: an object with a `result` key is that
//!   item (whatever its value, `null` included), an error body is that
//!   error, anything else a decoding error (but for serde's derive reading
//!   `[x]` as `{"result": x}`); and every item and error the server can
//!   write reads back as itself;
//! - a whole body cut into chunks at input-chosen points: the client yields
//!   what decoding the non-blank lines one by one yields, up to the first
//!   error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use kit::Error;
use kit_runtime::fuzzing::{ndjson_encode_error, ndjson_encode_item, ndjson_line, ndjson_stream};

fn line(data: &[u8]) {
    let ours = ndjson_line::<Value>(data);
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(o)) if o.contains_key("result") => match &ours {
            Ok(item) => assert_eq!(Some(item), o.get("result")),
            // serde's derive refuses duplicate keys; serde_json's map keeps the last.
            Err(e) => assert!(e.message().contains("duplicate field"), "{data:?}: {e}"),
        },
        // serde's derive also reads a struct from an array of its fields.
        Ok(Value::Array(a)) if a.len() == 1 && ours.is_ok() => {
            assert_eq!(ours.ok().as_ref(), a.first());
        }
        Ok(_) => {
            let err = ours.expect_err("a line without `result` is no item");
            if let Some(sent) = Error::from_json(data) {
                assert_eq!(err, sent);
            }
        }
        Err(_) => {
            if let Ok(item) = ours {
                panic!("{data:?} is not JSON but read as {item:?}");
            }
        }
    }
    // What a server writes reads back as itself.
    let item: Value = serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()));
    let framed = ndjson_encode_item(&item);
    assert_eq!(framed.last(), Some(&b'\n'));
    let back = ndjson_line::<Value>(&framed[..framed.len() - 1]);
    assert_eq!(
        back.as_ref().ok(),
        Some(&item),
        "{item:?} framed as {:?}: {back:?}",
        String::from_utf8_lossy(&framed)
    );
    let option: Option<u8> = data.first().copied().filter(|b| b % 2 == 0);
    let framed = ndjson_encode_item(&option);
    let back = ndjson_line::<Option<u8>>(&framed[..framed.len() - 1]);
    assert_eq!(
        back.ok(),
        Some(option),
        "{:?}",
        String::from_utf8_lossy(&framed)
    );
    let err = Error::unavailable(String::from_utf8_lossy(data));
    let framed = ndjson_encode_error(&err);
    assert_eq!(
        ndjson_line::<Value>(&framed[..framed.len() - 1]).err(),
        Some(err)
    );
}

fn stream(data: &[u8]) {
    // Input: [number of cuts][cut positions...][body]
    let Some((&cuts, rest)) = data.split_first() else {
        return;
    };
    let cuts = usize::from(cuts % 8).min(rest.len());
    let (positions, body) = rest.split_at(cuts);
    let mut points: Vec<usize> = positions
        .iter()
        .map(|p| usize::from(*p) % (body.len() + 1))
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points {
        chunks.push(body[start..p].to_vec());
        start = p;
    }
    chunks.push(body[start..].to_vec());
    let ours = ndjson_stream::<Value>(chunks);

    let mut expected = Vec::new();
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = ndjson_line::<Value>(line);
        let end = item.is_err();
        expected.push(item);
        if end {
            break;
        }
    }
    assert_eq!(
        ours.len(),
        expected.len(),
        "{:?}",
        String::from_utf8_lossy(body)
    );
    for (a, b) in ours.iter().zip(&expected) {
        match (a, b) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
            _ => panic!("{a:?} != {b:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        line(rest)
    } else {
        stream(rest)
    }
});
