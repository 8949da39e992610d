pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc)]
    pub async fn scale(&self, nums: kit::Streaming<u64>, by: u64) -> u64 {
        let _ = (nums, by);
        0
    }
}

fn main() {}
