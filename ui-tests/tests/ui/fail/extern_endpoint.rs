pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /x")]
    extern "C" fn x(&self) -> u32 {
        1
    }
}

fn main() {}
