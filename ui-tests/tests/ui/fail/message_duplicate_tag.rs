#[derive(kit::Message)]
pub struct Pair {
    #[kit(tag = 2)]
    pub a: u32,
    pub b: u32,
}

fn main() {}
