//! Two services in one protobuf package, as a team splitting an API
//! across impl blocks writes them: one `.proto` file, two services.

pub struct Orders;

#[kit::service(name = "orders", package = "shared.v1")]
impl Orders {
    /// Places an order.
    #[endpoint(http = "POST /orders", grpc)]
    pub async fn place(&self, sku: String, quantity: u32) -> u64 {
        u64::from(quantity) + sku.len() as u64
    }
}

pub struct Refunds;

#[kit::service(name = "refunds", package = "shared.v1")]
impl Refunds {
    /// Refunds an order.
    #[endpoint(http = "POST /refunds", grpc)]
    pub async fn refund(&self, order: u64) -> bool {
        order > 0
    }
}
