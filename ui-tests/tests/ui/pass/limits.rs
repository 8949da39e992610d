use std::time::Duration;

use kit::limit::Rate;

pub struct Limited;

#[kit::service(concurrency = 64, rate = "100/s")]
impl Limited {
    #[endpoint(http = "POST /a")]
    pub async fn a(&self) -> u8 {
        1
    }

    #[endpoint(http = "POST /b", grpc, concurrency = 8, rate = "20/m", burst = 5)]
    pub async fn b(&self) -> u8 {
        2
    }
}

fn main() {
    let d = <Limited as kit::Endpoints>::DESCRIPTOR;
    assert_eq!(d.concurrency, Some(64));
    let a = d.endpoint("a").unwrap();
    assert_eq!((a.concurrency, a.service_concurrency), (None, Some(64)));
    assert_eq!(a.rate, Some(Rate::per_second(100)));
    let b = d.endpoint("b").unwrap();
    assert_eq!(b.concurrency, Some(8));
    assert_eq!(b.rate, Some(Rate::new(20, Duration::from_secs(60)).burst(5)));
}
