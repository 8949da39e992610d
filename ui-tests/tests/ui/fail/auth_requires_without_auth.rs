pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", requires = "scope:write")]
    async fn x(&self) -> u32 {
        1
    }
}

fn main() {}
