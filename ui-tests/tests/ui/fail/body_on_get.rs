pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x")]
    pub async fn x(&self, #[body] v: Vec<u8>) -> u8 { v[0] }
}

fn main() {}
