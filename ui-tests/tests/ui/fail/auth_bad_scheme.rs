pub struct Svc;

#[kit::service(auth = "jwt | Bearer Token")]
impl Svc {
    #[endpoint(http = "POST /x")]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
