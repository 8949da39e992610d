//! kit's protobuf decoder (`#[derive(kit::Message)]`) against prost, the
//! reference for Rust, on the same bytes: a message with every field shape
//! (each scalar kind, strings, bytes, packed and unpacked repeated fields,
//! maps, nested and recursive messages, oneofs, enums, `Option`, the
//! well-known types, newtypes, narrow integers).
//!
//! Checked on every input:
//! - kit and prost accept and reject the same inputs, except where kit is
//!   stricter by design (an `u8`/`i16`/`u16` out of range);
//! - when both accept, they hold the same value: kit's value, encoded by
//!   kit and decoded by prost, equals prost's value, after mapping prost's
//!   values to what kit's types can hold (unknown enum numbers read as the
//!   first variant, negative durations as zero, nanos clamped, absent
//!   message fields as their defaults);
//! - kit decodes its own encoding back to the same bytes, and its length
//!   function agrees with what it wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;

mod kitside {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use kit::proto::{Fixed32, Fixed64, Sfixed32, Sfixed64, Sint32, Sint64};

    #[derive(Clone, Copy, Debug, PartialEq, kit::Message)]
    pub enum Color {
        Unknown,
        Red,
        Blue = 7,
    }

    #[derive(Debug, kit::Message)]
    pub struct Nested {
        pub x: i64,
        pub label: String,
        pub children: Vec<Nested>,
    }

    #[derive(Debug, kit::Message)]
    pub enum Shape {
        Empty,
        Circle(f64),
        Rect { w: u32, h: u32 },
        Label(String),
        Inner(Nested),
    }

    #[derive(Debug, kit::Message)]
    pub struct Id(pub u64);

    #[derive(Debug, kit::Message)]
    pub struct All {
        pub a: i32,
        pub b: i64,
        pub c: u32,
        pub d: u64,
        pub e: bool,
        pub f: f32,
        pub g: f64,
        pub h: String,
        pub i: Vec<u8>,
        pub j: Option<u32>,
        pub k: Vec<i32>,
        pub l: Vec<String>,
        pub m: BTreeMap<String, u64>,
        pub n: Sint32,
        pub o: Fixed64,
        pub p: Sfixed32,
        pub q: Option<Nested>,
        pub r: Vec<Nested>,
        pub s: Color,
        pub t: Duration,
        pub u: Vec<Color>,
        pub v: BTreeMap<i32, Nested>,
        pub w: Option<String>,
        pub x: Sint64,
        pub y: Fixed32,
        pub z: Sfixed64,
        pub aa: bytes::Bytes,
        pub ab: Vec<f64>,
        pub ac: Vec<Sint64>,
        pub ad: Vec<Fixed32>,
        pub ae: Vec<bool>,
        pub af: Option<f32>,
        pub ag: SystemTime,
        pub ah: Shape,
        pub ai: Vec<Shape>,
        pub aj: Option<Shape>,
        pub ak: BTreeMap<bool, Color>,
        pub al: BTreeMap<u64, Vec<u8>>,
        pub am: u8,
        pub an: i16,
        pub ao: Vec<u16>,
        pub ap: Vec<Vec<u8>>,
        pub aq: kit::proto::Timestamp,
        pub ar: kit::proto::Duration,
        pub at: kit::proto::Bytes,
        pub au: Nested,
        pub av: Id,
        pub aw: Option<i64>,
        pub ax: BTreeMap<String, Shape>,
        pub ay: Vec<u64>,
        pub az: Vec<Sfixed64>,
    }
}

mod reference {
    use std::collections::BTreeMap;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Color {
        Unknown = 0,
        Red = 1,
        Blue = 7,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Nested {
        #[prost(int64, tag = "1")]
        pub x: i64,
        #[prost(string, tag = "2")]
        pub label: String,
        #[prost(message, repeated, tag = "3")]
        pub children: Vec<Nested>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Rect {
        #[prost(uint32, tag = "1")]
        pub w: u32,
        #[prost(uint32, tag = "2")]
        pub h: u32,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ShapeValue {
        #[prost(message, tag = "1")]
        Empty(Empty),
        #[prost(double, tag = "2")]
        Circle(f64),
        #[prost(message, tag = "3")]
        Rect(Rect),
        #[prost(string, tag = "4")]
        Label(String),
        #[prost(message, tag = "5")]
        Inner(Nested),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Shape {
        #[prost(oneof = "ShapeValue", tags = "1, 2, 3, 4, 5")]
        pub value: Option<ShapeValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct All {
        #[prost(int32, tag = "1")]
        pub a: i32,
        #[prost(int64, tag = "2")]
        pub b: i64,
        #[prost(uint32, tag = "3")]
        pub c: u32,
        #[prost(uint64, tag = "4")]
        pub d: u64,
        #[prost(bool, tag = "5")]
        pub e: bool,
        #[prost(float, tag = "6")]
        pub f: f32,
        #[prost(double, tag = "7")]
        pub g: f64,
        #[prost(string, tag = "8")]
        pub h: String,
        #[prost(bytes = "vec", tag = "9")]
        pub i: Vec<u8>,
        #[prost(uint32, optional, tag = "10")]
        pub j: Option<u32>,
        #[prost(int32, repeated, tag = "11")]
        pub k: Vec<i32>,
        #[prost(string, repeated, tag = "12")]
        pub l: Vec<String>,
        #[prost(btree_map = "string, uint64", tag = "13")]
        pub m: BTreeMap<String, u64>,
        #[prost(sint32, tag = "14")]
        pub n: i32,
        #[prost(fixed64, tag = "15")]
        pub o: u64,
        #[prost(sfixed32, tag = "16")]
        pub p: i32,
        #[prost(message, optional, tag = "17")]
        pub q: Option<Nested>,
        #[prost(message, repeated, tag = "18")]
        pub r: Vec<Nested>,
        #[prost(enumeration = "Color", tag = "19")]
        pub s: i32,
        #[prost(message, optional, tag = "20")]
        pub t: Option<prost_types::Duration>,
        #[prost(enumeration = "Color", repeated, tag = "21")]
        pub u: Vec<i32>,
        #[prost(btree_map = "int32, message", tag = "22")]
        pub v: BTreeMap<i32, Nested>,
        #[prost(string, optional, tag = "23")]
        pub w: Option<String>,
        #[prost(sint64, tag = "24")]
        pub x: i64,
        #[prost(fixed32, tag = "25")]
        pub y: u32,
        #[prost(sfixed64, tag = "26")]
        pub z: i64,
        #[prost(bytes = "vec", tag = "27")]
        pub aa: Vec<u8>,
        #[prost(double, repeated, tag = "28")]
        pub ab: Vec<f64>,
        #[prost(sint64, repeated, tag = "29")]
        pub ac: Vec<i64>,
        #[prost(fixed32, repeated, tag = "30")]
        pub ad: Vec<u32>,
        #[prost(bool, repeated, tag = "31")]
        pub ae: Vec<bool>,
        #[prost(float, optional, tag = "32")]
        pub af: Option<f32>,
        #[prost(message, optional, tag = "33")]
        pub ag: Option<prost_types::Timestamp>,
        #[prost(message, optional, tag = "34")]
        pub ah: Option<Shape>,
        #[prost(message, repeated, tag = "35")]
        pub ai: Vec<Shape>,
        #[prost(message, optional, tag = "36")]
        pub aj: Option<Shape>,
        #[prost(btree_map = "bool, enumeration(Color)", tag = "37")]
        pub ak: BTreeMap<bool, i32>,
        #[prost(btree_map = "uint64, bytes", tag = "38")]
        pub al: BTreeMap<u64, Vec<u8>>,
        #[prost(uint32, tag = "39")]
        pub am: u32,
        #[prost(int32, tag = "40")]
        pub an: i32,
        #[prost(uint32, repeated, tag = "41")]
        pub ao: Vec<u32>,
        #[prost(bytes = "vec", repeated, tag = "42")]
        pub ap: Vec<Vec<u8>>,
        #[prost(message, optional, tag = "43")]
        pub aq: Option<prost_types::Timestamp>,
        #[prost(message, optional, tag = "44")]
        pub ar: Option<prost_types::Duration>,
        #[prost(bytes = "vec", tag = "45")]
        pub at: Vec<u8>,
        #[prost(message, optional, tag = "46")]
        pub au: Option<Nested>,
        #[prost(uint64, tag = "47")]
        pub av: u64,
        #[prost(int64, optional, tag = "48")]
        pub aw: Option<i64>,
        #[prost(btree_map = "string, message", tag = "49")]
        pub ax: BTreeMap<String, Shape>,
        #[prost(uint64, repeated, tag = "50")]
        pub ay: Vec<u64>,
        #[prost(sfixed64, repeated, tag = "51")]
        pub az: Vec<i64>,
    }
}

/// What kit's enum holds for a number: unknown numbers are the first variant.
fn color(n: i32) -> i32 {
    match reference::Color::try_from(n) {
        Ok(c) => c as i32,
        Err(_) => 0,
    }
}

/// What a `std::time::Duration` holds: negative parts are zero, nanos at
/// most 999,999,999; always present (a message field).
fn duration(d: Option<prost_types::Duration>) -> Option<prost_types::Duration> {
    let d = d.unwrap_or_default();
    Some(prost_types::Duration {
        seconds: d.seconds.max(0),
        nanos: d.nanos.clamp(0, 999_999_999),
    })
}

/// What a `SystemTime` holds: any seconds, nanos in range; always present.
fn timestamp(t: Option<prost_types::Timestamp>) -> Option<prost_types::Timestamp> {
    let t = t.unwrap_or_default();
    Some(prost_types::Timestamp {
        seconds: t.seconds,
        nanos: t.nanos.clamp(0, 999_999_999),
    })
}

/// A oneof message with no variant set reads as its first variant.
fn shape(s: reference::Shape) -> reference::Shape {
    reference::Shape {
        value: Some(
            s.value
                .unwrap_or(reference::ShapeValue::Empty(reference::Empty {})),
        ),
    }
}

fn normalize(mut v: reference::All) -> reference::All {
    v.s = color(v.s);
    v.t = duration(v.t);
    v.u = v.u.into_iter().map(color).collect();
    v.ag = timestamp(v.ag);
    v.ah = Some(shape(v.ah.unwrap_or_default()));
    v.ai = v.ai.into_iter().map(shape).collect();
    v.aj = v.aj.map(shape);
    v.ak = v.ak.into_iter().map(|(k, c)| (k, color(c))).collect();
    v.aq = timestamp(v.aq);
    v.ar = duration(v.ar);
    v.au = Some(v.au.unwrap_or_default());
    v.ax = v.ax.into_iter().map(|(k, s)| (k, shape(s))).collect();
    v
}

fuzz_target!(|data: &[u8]| {
    let ours = kit::proto::decode::<kitside::All>(data);
    let theirs = reference::All::decode(data);
    match (&ours, &theirs) {
        (Ok(ours), Ok(theirs)) => {
            let bytes = kit::proto::encode_to_vec(ours);
            assert_eq!(
                <kitside::All as kit::proto::ProtoMessage>::fields_len(ours),
                bytes.len(),
                "kit's length disagrees with what it wrote"
            );
            // Compared as values, in prost's types (re-encoded by prost, so
            // NaN compares by its bits): kit writes a map entry's value that
            // is a message at its defaults, prost leaves it off.
            let ours_in_prost =
                reference::All::decode(bytes.as_slice()).expect("prost decodes what kit encoded");
            assert!(
                normalize(ours_in_prost).encode_to_vec()
                    == normalize(theirs.clone()).encode_to_vec(),
                "kit and prost decoded different values:\nkit   {ours:?}\nprost {theirs:?}"
            );
            let again = kit::proto::decode::<kitside::All>(bytes.as_slice())
                .expect("kit decodes what it encoded");
            assert_eq!(kit::proto::encode_to_vec(&again), bytes, "round trip");
        }
        (Err(e), Ok(_)) if e.to_string().contains("out of range") => {}
        (Err(_), Err(_)) => {}
        _ => panic!(
            "kit and prost disagree on accepting the input: kit {:?}, prost {:?}",
            ours.as_ref().map(|_| ()),
            theirs.as_ref().map(|_| ())
        ),
    }
});
