#[kit::service]
pub struct Svc;

fn main() {}
