pub struct Svc;

#[kit::service(slow = "100ms")]
impl Svc {
    #[endpoint(http = "POST /x", slow = "0ms")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
