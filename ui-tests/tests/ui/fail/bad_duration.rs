pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", timeout = "2 parsecs")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
