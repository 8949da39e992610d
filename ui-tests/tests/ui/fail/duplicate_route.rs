pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /items/{id}")]
    pub async fn a(&self, id: u32) -> u32 { id }

    #[endpoint(http = "GET /items/{key}")]
    pub async fn b(&self, key: u32) -> u32 { key }
}

fn main() {}
