pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", burst = 10)]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
