pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self) -> std::time::Instant { std::time::Instant::now() }
}

fn main() {}
