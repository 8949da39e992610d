pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(timeout = "1s")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
