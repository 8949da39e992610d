pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", retry = "three")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
