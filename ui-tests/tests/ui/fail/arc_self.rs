use std::sync::Arc;

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x")]
    async fn x(self: Arc<Self>) -> u32 {
        1
    }
}

fn main() {}
