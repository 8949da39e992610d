pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(grpc)]
    pub async fn x(&self, letter: char) -> u8 {
        letter as u8
    }
}

fn main() {}
