use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A color.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub enum Color {
    Unknown,
    Red,
    Green = 5,
}

/// Everything protobuf can carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Everything {
    pub id: u64,
    pub name: String,
    pub blob: Vec<u8>,
    pub maybe: Option<i32>,
    pub list: Vec<i64>,
    pub names: Vec<String>,
    pub map: HashMap<String, u32>,
    pub sorted: BTreeMap<i32, Color>,
    pub color: Color,
    pub took: Duration,
    pub at: SystemTime,
    #[kit(tag = 20)]
    pub zig: kit::proto::Sint64,
    pub nested: Option<Box2>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
#[kit(name = "Inner")]
pub struct Box2 {
    pub f: f32,
}

pub struct Svc;

#[kit::service(package = "demo.v1", grpc)]
impl Svc {
    /// Both transports.
    #[endpoint(http = "POST /echo")]
    pub async fn echo(&self, #[body] e: Everything) -> Everything {
        e
    }

    #[endpoint(grpc = "Ping")]
    pub async fn ping(&self, n: u32, ctx: &kit::Context) -> Result<(), kit::Error> {
        let _ = (n, ctx.trace_id());
        Ok(())
    }

    #[endpoint(http = "GET /colors/{n}")]
    pub async fn colors(&self, n: u32) -> Vec<Color> {
        vec![Color::Red; n as usize]
    }
}

fn main() {
    let d = <Svc as kit::Endpoints>::DESCRIPTOR;
    let proto = d.proto().unwrap();
    assert!(proto.contains("rpc Echo(.demo.v1.Everything) returns (.demo.v1.Everything);"), "{proto}");
    assert!(proto.contains("rpc Ping(.demo.v1.PingRequest) returns (.demo.v1.PingResponse);"), "{proto}");
    assert!(proto.contains("sint64 zig = 20;"), "{proto}");
    assert!(proto.contains("map<string, uint32> map = 7;"), "{proto}");
    assert!(proto.contains("google.protobuf.Duration took = 10;"), "{proto}");
    assert!(proto.contains("COLOR_GREEN = 5;"), "{proto}");
    assert!(proto.contains("Inner nested = 13;"), "{proto}");
    let _ = SvcClient::builder().transport(kit::Transport::Grpc);
}
