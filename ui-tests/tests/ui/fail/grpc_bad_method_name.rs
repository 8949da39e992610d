pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc = "not valid!")]
    pub async fn a(&self) -> u8 { 1 }
}

fn main() {}
