pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", retries = 3)]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
