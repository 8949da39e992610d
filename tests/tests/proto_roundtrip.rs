//! Property tests: any value of the supported types encodes, with
//! `#[derive(kit::Message)]`, to exactly the bytes prost (protobuf's
//! reference implementation for Rust) produces for the equivalent
//! `.proto`, and each side decodes what the other wrote.

use std::collections::BTreeMap;
use std::time::Duration;

use kit::proto::{Fixed64, Sfixed32, Sint32};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, kit::Message)]
pub enum Color {
    Unknown,
    Red,
    Blue = 7,
}

#[derive(Clone, Debug, PartialEq, kit::Message)]
pub struct Nested {
    pub x: i64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, kit::Message)]
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
}

mod reference {
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
        pub m: std::collections::BTreeMap<String, u64>,
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
        pub v: std::collections::BTreeMap<i32, Nested>,
        #[prost(string, optional, tag = "23")]
        pub w: Option<String>,
    }
}

fn color(c: Color) -> i32 {
    c as i32
}

fn nested(n: &Nested) -> reference::Nested {
    reference::Nested {
        x: n.x,
        label: n.label.clone(),
    }
}

fn to_reference(v: &All) -> reference::All {
    reference::All {
        a: v.a,
        b: v.b,
        c: v.c,
        d: v.d,
        e: v.e,
        f: v.f,
        g: v.g,
        h: v.h.clone(),
        i: v.i.clone(),
        j: v.j,
        k: v.k.clone(),
        l: v.l.clone(),
        m: v.m.clone(),
        n: v.n.0,
        o: v.o.0,
        p: v.p.0,
        q: v.q.as_ref().map(nested),
        r: v.r.iter().map(nested).collect(),
        s: color(v.s),
        t: Some(prost_types::Duration {
            seconds: v.t.as_secs() as i64,
            nanos: v.t.subsec_nanos() as i32,
        }),
        u: v.u.iter().copied().map(color).collect(),
        v: v.v.iter().map(|(k, n)| (*k, nested(n))).collect(),
        w: v.w.clone(),
    }
}

fn any_color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Unknown), Just(Color::Red), Just(Color::Blue)]
}

fn any_nested() -> impl Strategy<Value = Nested> {
    (any::<i64>(), ".{0,8}").prop_map(|(x, label)| Nested { x, label })
}

prop_compose! {
    fn any_all()(
        (a, b, c, d, e) in (any::<i32>(), any::<i64>(), any::<u32>(), any::<u64>(), any::<bool>()),
        (f, g) in (-1e6f32..1e6f32, -1e12f64..1e12f64),
        (h, i, j) in (".{0,12}", proptest::collection::vec(any::<u8>(), 0..16), proptest::option::of(any::<u32>())),
        (k, l) in (proptest::collection::vec(any::<i32>(), 0..8), proptest::collection::vec(".{0,6}", 0..4)),
        m in proptest::collection::btree_map(".{0,6}", any::<u64>(), 0..4),
        (n, o, p) in (any::<i32>(), any::<u64>(), any::<i32>()),
        (q, r) in (proptest::option::of(any_nested()), proptest::collection::vec(any_nested(), 0..3)),
        (s, t) in (any_color(), (0u64..1_000_000_000, 0u32..1_000_000_000)),
        u in proptest::collection::vec(any_color(), 0..5),
        v in proptest::collection::btree_map(any::<i32>(), any_nested(), 0..3),
        w in proptest::option::of(".{0,6}"),
    ) -> All {
        All {
            a, b, c, d, e, f, g, h, i, j, k, l, m,
            n: Sint32(n), o: Fixed64(o), p: Sfixed32(p), q, r, s,
            t: Duration::new(t.0, t.1), u, v, w,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn kit_encodes_the_same_bytes_as_prost(value in any_all()) {
        let ours = kit::proto::encode_to_vec(&value);
        let reference = prost::Message::encode_to_vec(&to_reference(&value));
        prop_assert_eq!(&ours, &reference);
    }

    #[test]
    fn prost_decodes_what_kit_encodes(value in any_all()) {
        let ours = kit::proto::encode_to_vec(&value);
        let decoded = <reference::All as prost::Message>::decode(ours.as_slice()).unwrap();
        prop_assert_eq!(decoded, to_reference(&value));
    }

    #[test]
    fn kit_decodes_what_prost_encodes(value in any_all()) {
        let bytes = prost::Message::encode_to_vec(&to_reference(&value));
        let decoded: All = kit::proto::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = kit::proto::decode::<All>(bytes.as_slice());
    }
}

#[test]
fn unpacked_repeated_scalars_are_accepted() {
    // Field 11 (repeated int32) sent one element at a time, as proto2 writers do.
    let bytes = [0x58, 0x01, 0x58, 0x02];
    let decoded: All = kit::proto::decode(&bytes[..]).unwrap();
    assert_eq!(decoded.k, vec![1, 2]);
}

#[test]
fn unknown_fields_are_skipped() {
    // Field 99 (varint), then field 1 = 5.
    let bytes = [0x98, 0x06, 0x2a, 0x08, 0x05];
    let decoded: All = kit::proto::decode(&bytes[..]).unwrap();
    assert_eq!(decoded.a, 5);
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    #[derive(Debug, kit::Message)]
    pub struct Node {
        pub children: Vec<Node>,
    }
    let mut bytes = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![0x0a];
        prost::encoding::encode_varint(bytes.len() as u64, &mut outer);
        outer.extend_from_slice(&bytes);
        bytes = outer;
    }
    assert!(kit::proto::decode::<Node>(bytes.as_slice()).is_err());
}
