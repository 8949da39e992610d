pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", grpc)]
    async fn x(&self, s: String) -> Result<String, String> {
        Ok(s)
    }
}

fn main() {}
