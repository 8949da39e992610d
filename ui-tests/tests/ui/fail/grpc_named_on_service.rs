pub struct Svc;

#[kit::service(grpc = "Everything")]
impl Svc {
    #[endpoint(http = "POST /a")]
    pub async fn a(&self) -> u8 { 1 }
}

fn main() {}
