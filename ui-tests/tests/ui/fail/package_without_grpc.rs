pub struct Svc;

#[kit::service(package = "svc.v1")]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
