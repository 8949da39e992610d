pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /sum", grpc)]
    pub async fn sum(&self, nums: kit::Streaming<u64>) -> u64 {
        let _ = nums;
        0
    }
}

fn main() {}
