pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x/{id")]
    pub async fn x(&self, id: u32) -> u32 { id }
}

fn main() {}
