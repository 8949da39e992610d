pub struct Svc;

#[kit::service]
impl Default for Svc {
    fn default() -> Self { Svc }
}

fn main() {}
