#[derive(kit::Message)]
#[kit(nmae = "Thing")]
pub struct Item {
    pub id: u32,
}

fn main() {}
