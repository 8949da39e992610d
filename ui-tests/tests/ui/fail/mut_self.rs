pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&mut self) -> u8 { 1 }
}

fn main() {}
