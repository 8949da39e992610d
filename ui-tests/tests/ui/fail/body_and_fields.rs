pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self, #[body] a: String, extra: u32) -> String { format!("{a}{extra}") }
}

fn main() {}
