pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self, s: &str) -> usize { s.len() }
}

fn main() {}
