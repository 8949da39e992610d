use kit::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Item {
    pub name: String,
}

pub struct Shop;

/// A shop.
#[kit::service(name = "shop")]
impl Shop {
    /// Path and optional query.
    #[endpoint(http = "GET /items/{id}")]
    pub async fn get(&self, id: u64, verbose: Option<bool>) -> Item {
        let _ = verbose;
        Item { name: id.to_string() }
    }

    #[endpoint(http = "PUT /items/{id}", idempotent, retry = 2, timeout = "1500ms")]
    pub async fn put(&self, id: u64, #[body] item: Item) -> Result<Item, kit::Error> {
        let _ = id;
        Ok(item)
    }

    #[endpoint(http = "PATCH /items/{id}")]
    pub async fn rename(&self, id: u64, name: String, ctx: &Context) -> kit::Result<()> {
        let _ = (id, name, ctx.trace_id());
        Ok(())
    }

    #[endpoint(http = "DELETE /items/{id}")]
    pub async fn delete(&self, id: u64) {
        let _ = id;
    }

    #[endpoint(http = "POST /nothing")]
    pub async fn nothing(&self) -> Vec<String> {
        vec![]
    }

    /// Plain helper methods are left alone.
    fn helper(&self) -> u8 {
        1
    }
}

fn main() {
    let _router: axum_free_check::Unused = ();
    let _ = Shop.helper();
    let _ = kit::router(Shop);
    let _client: fn() -> kit::client::ClientBuilder<ShopClient> = ShopClient::builder;
    assert_eq!(<Shop as kit::Endpoints>::DESCRIPTOR.endpoints.len(), 5);
}

mod axum_free_check {
    pub type Unused = ();
}
