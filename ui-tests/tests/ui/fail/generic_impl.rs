pub struct Svc<T>(T);

#[kit::service]
impl<T: Send + Sync + 'static> Svc<T> {
    #[endpoint(http = "POST /x")]
    async fn x(&self, s: String) -> String {
        s
    }
}

fn main() {}
