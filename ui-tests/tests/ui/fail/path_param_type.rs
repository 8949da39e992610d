pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x/{ids}")]
    pub async fn x(&self, ids: Vec<u32>) -> usize { ids.len() }
}

fn main() {}
