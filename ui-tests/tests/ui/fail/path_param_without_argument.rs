pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /users/{id}")]
    pub async fn x(&self, name: String) -> String { name }
}

fn main() {}
