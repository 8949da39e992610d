//! An inventory service written as a user would write one: ids as
//! newtypes, kinds as enums, shapes as enums with data, prices, tags,
//! attributes, timestamps, notes; a custom error enum that clients get
//! back typed; type aliases; a raw identifier; a context-reading endpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use kit::proto::Timestamp;
use serde::{Deserialize, Serialize};

/// An item's id: a string on every wire, its own type in Rust.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, kit::Message,
)]
#[serde(transparent)]
pub struct ItemId(pub String);

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, kit::Message)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Unspecified,
    Bolt,
    Nut,
    WingNut,
}

/// An item's outline: protobuf `oneof` on gRPC, serde's externally tagged
/// enum (snake_case, as protobuf's JSON mapping names oneof fields) on HTTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Circle { r: f64 },
    Rect { w: f64, h: f64 },
    Label(String),
    Blank,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Item {
    pub id: ItemId,
    pub name: String,
    pub quantity: u32,
    pub price_cents: i64,
    pub tags: Vec<String>,
    pub attributes: HashMap<String, String>,
    pub created: Timestamp,
    pub kind: ItemKind,
    pub shape: Option<Shape>,
    pub notes: Option<String>,
}

/// What the server saw of the request (named like its endpoint's message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct RequestInfo {
    pub trace_id: String,
    pub remaining_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub struct Stats {
    pub items: u64,
    pub units: u64,
}

/// The service's own errors, which clients get back as this type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InvError {
    NotFound { id: String },
    OutOfStock { id: String, have: u32, want: u32 },
    Exists(String),
}

impl std::fmt::Display for InvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvError::NotFound { id } => write!(f, "no item {id}"),
            InvError::OutOfStock { id, have, want } => {
                write!(f, "item {id}: {have} in stock, {want} wanted")
            }
            InvError::Exists(id) => write!(f, "item {id} exists"),
        }
    }
}

impl From<InvError> for kit::Error {
    fn from(e: InvError) -> kit::Error {
        let code = match &e {
            InvError::NotFound { .. } => kit::Code::NotFound,
            InvError::OutOfStock { .. } => kit::Code::FailedPrecondition,
            InvError::Exists(_) => kit::Code::AlreadyExists,
        };
        kit::Error::new(code, e.to_string()).with_typed(&e)
    }
}

pub type SvcResult<T> = Result<T, InvError>;
pub type Sku = String;

#[derive(Default)]
pub struct Inventory {
    items: Mutex<BTreeMap<ItemId, Item>>,
}

#[kit::service(name = "inventory", package = "inventory.v1")]
impl Inventory {
    /// Creates an item.
    #[endpoint(http = "POST /items", grpc)]
    pub async fn create(&self, #[body] item: Item) -> SvcResult<Item> {
        let mut items = self.items.lock().unwrap();
        if items.contains_key(&item.id) {
            return Err(InvError::Exists(item.id.0.clone()));
        }
        items.insert(item.id.clone(), item.clone());
        Ok(item)
    }

    /// Reads an item.
    #[endpoint(http = "GET /items/{id}", grpc)]
    pub async fn get(&self, id: ItemId) -> SvcResult<Item> {
        self.items
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or(InvError::NotFound { id: id.0 })
    }

    /// Lists items having every tag in `tag`, of `kind` if given.
    #[endpoint(http = "GET /items", grpc)]
    pub async fn list(
        &self,
        tag: Vec<String>,
        kind: Option<ItemKind>,
        limit: Option<u32>,
    ) -> Vec<Item> {
        self.items
            .lock()
            .unwrap()
            .values()
            .filter(|i| tag.iter().all(|t| i.tags.contains(t)))
            .filter(|i| kind.is_none_or(|k| i.kind == k))
            .take(limit.unwrap_or(u32::MAX) as usize)
            .cloned()
            .collect()
    }

    /// Deletes an item: 204 No Content over HTTP.
    #[endpoint(http = "DELETE /items/{id}", grpc, idempotent)]
    pub async fn delete(&self, id: ItemId) -> SvcResult<()> {
        match self.items.lock().unwrap().remove(&id) {
            Some(_) => Ok(()),
            None => Err(InvError::NotFound { id: id.0 }),
        }
    }

    /// Takes `want` units out of stock.
    #[endpoint(http = "POST /items/{id}/take", grpc)]
    pub async fn take(&self, id: ItemId, want: u32) -> SvcResult<Item> {
        let mut items = self.items.lock().unwrap();
        let item = items
            .get_mut(&id)
            .ok_or_else(|| InvError::NotFound { id: id.0.clone() })?;
        if item.quantity < want {
            return Err(InvError::OutOfStock {
                id: id.0,
                have: item.quantity,
                want,
            });
        }
        item.quantity -= want;
        Ok(item.clone())
    }

    /// Ids of the items whose kind's serde name is `type`.
    #[endpoint(http = "GET /find", grpc)]
    pub async fn find(&self, r#type: ItemKind) -> Vec<ItemId> {
        self.items
            .lock()
            .unwrap()
            .values()
            .filter(|i| i.kind == r#type)
            .map(|i| i.id.clone())
            .collect()
    }

    /// An item's kind: an enum returned directly.
    #[endpoint(http = "GET /items/{id}/kind", grpc)]
    pub async fn kind(&self, id: ItemId) -> SvcResult<ItemKind> {
        Ok(self.get(id).await?.kind)
    }

    /// An item's stock-keeping unit: a type alias returned.
    #[endpoint(http = "GET /items/{id}/sku", grpc)]
    pub async fn sku(&self, id: ItemId) -> SvcResult<Sku> {
        let item = self.get(id).await?;
        Ok(format!("{:?}-{}", item.kind, item.id.0).to_lowercase())
    }

    /// What the server saw of this request.
    #[endpoint(http = "GET /request-info", grpc)]
    pub async fn request_info(&self, ctx: &kit::Context) -> RequestInfo {
        RequestInfo {
            trace_id: ctx.trace_id().to_string(),
            remaining_ms: ctx.remaining().map(|d| d.as_millis() as u64),
        }
    }

    /// Counts.
    #[endpoint(http = "GET /stats", grpc)]
    pub async fn stats(&self) -> Stats {
        let items = self.items.lock().unwrap();
        Stats {
            items: items.len() as u64,
            units: items.values().map(|i| u64::from(i.quantity)).sum(),
        }
    }
}
