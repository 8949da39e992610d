pub struct Svc;

#[kit::service(auth = "jwt")]
impl Svc {
    #[endpoint(http = "POST /x", requires = "scope:write admin")]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
