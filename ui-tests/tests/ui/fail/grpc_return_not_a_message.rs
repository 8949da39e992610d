pub struct Reply {
    pub text: String,
}

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc)]
    pub async fn x(&self) -> Reply {
        Reply { text: String::new() }
    }
}

fn main() {}
