pub struct NotSerde;

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub async fn x(&self, name: String, payload: NotSerde) -> String {
        let _ = payload;
        name
    }
}

fn main() {}
