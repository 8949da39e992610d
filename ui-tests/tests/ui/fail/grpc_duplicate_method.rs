pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc = "Same")]
    pub async fn a(&self) -> u8 { 1 }

    #[endpoint(grpc = "Same")]
    pub async fn b(&self) -> u8 { 2 }
}

fn main() {}
