pub trait Greeter {}

#[kit::service]
impl dyn Greeter {
    #[endpoint(http = "POST /x")]
    async fn x(&self, s: String) -> String {
        s
    }
}

fn main() {}
