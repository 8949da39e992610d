#[derive(kit::Message)]
pub struct Thing {
    #[kit(number = 3)]
    pub id: u32,
}

fn main() {}
