pub struct Svc;

#[kit::service]
impl Svc
where
    Svc: Send,
{
    #[endpoint(http = "POST /x")]
    async fn x(&self, s: String) -> String {
        s
    }
}

fn main() {}
