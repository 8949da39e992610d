pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x", public)]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
