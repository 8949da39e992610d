pub struct Defaults;

#[kit::service(timeout = "3s", retry = 2, idempotent)]
impl Defaults {
    #[endpoint(http = "POST /a")]
    pub async fn a(&self) -> u8 {
        1
    }

    #[endpoint(http = "POST /b", timeout = "1s", retry = 5)]
    pub async fn b(&self) -> u8 {
        2
    }
}

fn main() {
    let d = <Defaults as kit::Endpoints>::DESCRIPTOR;
    assert_eq!(d.name, "defaults");
    let a = d.endpoint("a").unwrap();
    assert_eq!((a.timeout, a.retry, a.idempotent), (Some(std::time::Duration::from_secs(3)), 2, true));
    let b = d.endpoint("b").unwrap();
    assert_eq!((b.timeout, b.retry), (Some(std::time::Duration::from_secs(1)), 5));
}
