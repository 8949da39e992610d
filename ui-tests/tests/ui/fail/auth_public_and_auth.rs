pub struct Svc;

#[kit::service(auth = "jwt")]
impl Svc {
    #[endpoint(http = "GET /x", public, auth = "basic")]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
