#[derive(kit::Message)]
pub struct Odd {
    #[kit(tag = 19500)]
    pub a: u32,
}

fn main() {}
