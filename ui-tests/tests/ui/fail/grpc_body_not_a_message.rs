#[derive(serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub sku: String,
}

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /orders", grpc)]
    async fn place(&self, #[body] order: Order) -> u32 {
        order.sku.len() as u32
    }
}

fn main() {}
