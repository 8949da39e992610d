pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x/{id}")]
    pub async fn x(&self, id: Option<u32>) -> u8 { 1 }
}

fn main() {}
