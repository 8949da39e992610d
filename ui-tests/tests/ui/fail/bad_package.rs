pub struct Svc;

#[kit::service(package = "strings v1")]
impl Svc {
    #[endpoint(grpc)]
    pub async fn a(&self) -> u8 { 1 }
}

fn main() {}
