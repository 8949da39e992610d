// An annotation error is the only error: the generated client still has
// the method (a stub), so code calling it reports nothing more.
pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x", retry = "three")]
    async fn x(&self, s: String) -> String {
        s
    }
}

async fn call() -> Result<String, kit::Error> {
    let client = SvcClient::connect("http://127.0.0.1:1").await?;
    client.x("a").await
}

fn main() {
    let _ = call();
    let _ = <Svc as kit::Endpoints>::DESCRIPTOR;
}
