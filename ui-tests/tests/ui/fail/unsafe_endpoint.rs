pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "POST /x")]
    unsafe fn x(&self, s: String) -> String {
        s
    }
}

fn main() {}
