pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    pub fn x(&self) -> u8 { 1 }
}

fn main() {}
