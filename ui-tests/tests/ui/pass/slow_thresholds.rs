use std::time::Duration;

pub struct Watched;

#[kit::service(slow = "250ms")]
impl Watched {
    #[endpoint(http = "POST /a")]
    pub async fn a(&self) -> u8 {
        1
    }

    #[endpoint(http = "POST /b", grpc, slow = "2s")]
    pub async fn b(&self) -> u8 {
        2
    }
}

fn main() {
    let d = <Watched as kit::Endpoints>::DESCRIPTOR;
    assert_eq!(d.endpoint("a").unwrap().slow, Some(Duration::from_millis(250)));
    assert_eq!(d.endpoint("b").unwrap().slow, Some(Duration::from_secs(2)));
}
