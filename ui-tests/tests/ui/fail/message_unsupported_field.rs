#[derive(kit::Message)]
pub struct Bag {
    pub id: u32,
    pub letters: std::collections::HashSet<char>,
}

fn main() {}
