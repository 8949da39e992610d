use kit::Stream;

pub struct NotWire;

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /all")]
    pub async fn all(&self) -> impl Stream<Item = NotWire> {
        kit::stream::iter(vec![NotWire])
    }
}

fn main() {}
