pub struct Svc;

#[kit::service]
impl Svc {
    pub async fn x(&self) -> u8 { 1 }
}

fn main() {}
