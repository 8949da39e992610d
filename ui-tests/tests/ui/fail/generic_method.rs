pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x<T: Default>(&self) -> u8 { 1 }
}

fn main() {}
