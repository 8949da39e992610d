pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /search")]
    pub async fn x(&self, filter: std::collections::HashMap<String, String>) -> usize { filter.len() }
}

fn main() {}
