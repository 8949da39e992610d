pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "FETCH /x")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
