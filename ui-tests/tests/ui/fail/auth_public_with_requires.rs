pub struct Svc;

#[kit::service(auth = "jwt")]
impl Svc {
    #[endpoint(http = "GET /x", grpc, public, requires = "role:admin")]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
