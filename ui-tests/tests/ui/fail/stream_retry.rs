use kit::Stream;

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /ticks", grpc, retry = 2)]
    pub async fn ticks(&self) -> impl Stream<Item = u32> {
        kit::stream::iter(vec![1u32])
    }
}

fn main() {}
