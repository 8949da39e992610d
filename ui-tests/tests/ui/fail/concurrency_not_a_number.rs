pub struct Svc;

#[kit::service(concurrency = "many")]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
