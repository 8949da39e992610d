pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x")]
    async fn x<'a>(&'a self) -> u32 {
        1
    }
}

fn main() {}
