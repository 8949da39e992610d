pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self, #[body] a: String, #[body] b: String) -> String { a + &b }
}

fn main() {}
