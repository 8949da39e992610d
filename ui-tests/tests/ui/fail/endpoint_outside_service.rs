pub struct Svc;

impl Svc {
    #[kit::endpoint(http = "POST /x")]
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
