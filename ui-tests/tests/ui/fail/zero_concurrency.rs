pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", concurrency = 0)]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
