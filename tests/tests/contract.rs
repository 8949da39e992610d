//! The contract as a real service writes it (tests/src/inventory.rs): ids,
//! enums, enums with data, aliases, raw identifiers, typed errors, protobuf
//! JSON for time, HTTP semantics; over both transports and from curl-like
//! raw requests.

use std::collections::HashMap;
use std::time::Duration;

use kit::proto::Timestamp;
use kit::{Code, Server, Transport};
use kit_tests::inventory::{InvError, Inventory, InventoryClient, Item, ItemId, ItemKind, Shape};
use kit_tests::{post_json, raw, start};

fn item(id: &str, kind: ItemKind, tags: &[&str]) -> Item {
    Item {
        id: ItemId(id.into()),
        name: format!("item {id}"),
        quantity: 10,
        price_cents: 1_234,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        attributes: HashMap::from([("finish".to_string(), "zinc".to_string())]),
        created: Timestamp::from(std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)),
        kind,
        shape: Some(Shape::Rect { w: 2.0, h: 3.5 }),
        notes: None,
    }
}

async fn clients() -> (kit_tests::Running, Vec<(Transport, InventoryClient)>) {
    let server = start(Server::default().add_service(Inventory::default())).await;
    let mut out = Vec::new();
    for transport in [Transport::Http, Transport::Grpc] {
        let client = InventoryClient::builder()
            .base_url(server.url())
            .transport(transport)
            .build()
            .unwrap();
        out.push((transport, client));
    }
    (server, out)
}

#[tokio::test]
async fn a_realistic_service_round_trips_on_both_transports() {
    let (_server, clients) = clients().await;
    for (transport, c) in &clients {
        let p = format!("{transport:?}");
        let bolt = item(&format!("{p}-b"), ItemKind::Bolt, &["m6", "steel"]);
        let mut nut = item(&format!("{p}-n"), ItemKind::WingNut, &["m6"]);
        nut.shape = Some(Shape::Label("hex".into()));
        nut.notes = Some("left-handed".into());
        assert_eq!(c.create(bolt.clone()).await.unwrap(), bolt, "{p}");
        assert_eq!(c.create(nut.clone()).await.unwrap(), nut, "{p}");
        assert_eq!(c.get(bolt.id.clone()).await.unwrap(), bolt, "{p}");
        // Repeated and enum query parameters; an enum returned; an alias.
        let steel = c
            .list(vec!["m6".to_string(), "steel".to_string()], None, None)
            .await
            .unwrap();
        assert_eq!(
            steel.iter().filter(|i| i.id.0.starts_with(&p)).count(),
            1,
            "{p}"
        );
        let wing = c
            .list(vec![], Some(ItemKind::WingNut), Some(10))
            .await
            .unwrap();
        assert!(wing.iter().any(|i| i.id == nut.id), "{p}");
        assert_eq!(
            c.kind(nut.id.clone()).await.unwrap(),
            ItemKind::WingNut,
            "{p}"
        );
        assert_eq!(
            c.sku(bolt.id.clone()).await.unwrap(),
            format!("bolt-{}", bolt.id.0).to_lowercase(),
            "{p}"
        );
        assert!(
            c.find(ItemKind::Bolt).await.unwrap().contains(&bolt.id),
            "{p}"
        );
        // Unit results.
        c.delete(bolt.id.clone()).await.unwrap();
        // The service's own error comes back typed.
        let err = c.get(bolt.id.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{p}");
        assert_eq!(
            err.downcast::<InvError>(),
            Some(InvError::NotFound {
                id: bolt.id.0.clone()
            }),
            "{p}: {err:?}"
        );
        let err = c.take(nut.id.clone(), 99).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{p}");
        assert_eq!(
            err.downcast::<InvError>(),
            Some(InvError::OutOfStock {
                id: nut.id.0.clone(),
                have: 10,
                want: 99
            }),
            "{p}"
        );
        assert_eq!(err.downcast::<String>(), None);
        assert!(c.request_info().await.unwrap().trace_id.len() == 32, "{p}");
        assert!(c.stats().await.unwrap().items >= 1, "{p}");
    }
}

#[tokio::test]
async fn http_speaks_the_json_users_expect() {
    let (server, clients) = clients().await;
    let c = &clients[0].1;
    let x = item("x", ItemKind::Nut, &["a"]);
    c.create(x.clone()).await.unwrap();
    // Newtype ids are plain strings; the timestamp is RFC 3339; the
    // enum with data is externally tagged; the enum is its serde name.
    let got = raw(server.addr, "GET", "/items/x", &[], "").await;
    assert_eq!(got.status, 200);
    let json = got.json();
    assert_eq!(json["id"], "x");
    assert_eq!(json["created"], "2023-11-14T22:13:20.500Z");
    assert_eq!(json["kind"], "nut");
    assert_eq!(
        json["shape"],
        serde_json::json!({"rect": {"w": 2.0, "h": 3.5}})
    );
    // Repeated and enum query parameters, a raw identifier by its name.
    let listed = raw(server.addr, "GET", "/items?tag=a&kind=nut", &[], "").await;
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(1),
        "{:?}",
        listed.json()
    );
    let found = raw(server.addr, "GET", "/find?type=nut", &[], "").await;
    assert_eq!(found.json(), serde_json::json!(["x"]));
    let bad_kind = raw(server.addr, "GET", "/find?type=screw", &[], "").await;
    assert_eq!(bad_kind.status, 400);
    assert!(
        bad_kind.error_message().contains("`type`"),
        "{}",
        bad_kind.error_message()
    );
    // `()` is 204 No Content.
    let deleted = raw(server.addr, "DELETE", "/items/x", &[], "").await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    // The typed error travels as a google.rpc.ErrorInfo.
    let missing = raw(server.addr, "GET", "/items/x", &[], "").await;
    assert_eq!(missing.status, 404);
    let detail = &missing.json()["error"]["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(detail["reason"], "NOT_FOUND");
    // A wrong type inside a #[body] names the field's path.
    let mut bad = serde_json::to_value(item("y", ItemKind::Nut, &[])).unwrap();
    bad["shape"]["rect"]["w"] = serde_json::json!("wide");
    let resp = post_json(server.addr, "/items", &bad.to_string()).await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.error_message().contains("shape.rect.w"),
        "{}",
        resp.error_message()
    );
    // Code and status agree with the documented shape: the body's `code`
    // is the canonical code's HTTP status, the response may be more precise.
    let resp = raw(
        server.addr,
        "POST",
        "/items",
        &[("content-type", "text/plain")],
        "x",
    )
    .await;
    assert_eq!(resp.status, 415);
    assert_eq!(resp.json()["error"]["code"], 400);
    assert_eq!(resp.error_status(), "INVALID_ARGUMENT");
}

#[tokio::test]
async fn client_conveniences() {
    let (server, clients) = clients().await;
    let (_, c) = &clients[0];
    // A per-call timeout, without task-local tricks.
    let info = c
        .with_timeout(Duration::from_millis(1500))
        .request_info()
        .await
        .unwrap();
    let left = info.remaining_ms.expect("a deadline reached the server");
    assert!(left <= 1500 && left > 500, "{left}");
    // Without one, the server's default request timeout (30 s) applies.
    let default = c.request_info().await.unwrap().remaining_ms.unwrap();
    assert!((25_000..=30_000).contains(&default), "{default}");
    // connect() checks the server is there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = InventoryClient::connect(format!("http://{dead}"))
        .await
        .err()
        .expect("nothing listens");
    assert_eq!(err.code(), Code::Unavailable);
    assert!(InventoryClient::connect(server.url()).await.is_ok());
}
