#[derive(kit::Message)]
pub struct Item {
    #[kit(tag = 1, tag = 2)]
    pub id: u32,
}

fn main() {}
