pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc, concurrency = 4)]
    pub async fn all(&self) -> kit::Streaming<u64> {
        kit::Streaming::iter(vec![1u64])
    }
}

fn main() {}
