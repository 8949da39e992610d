pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn connect(&self) -> u8 { 1 }
}

fn main() {}
