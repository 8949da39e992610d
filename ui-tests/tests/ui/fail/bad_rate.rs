pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", rate = "100 per second")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
