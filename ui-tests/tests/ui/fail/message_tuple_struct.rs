#[derive(kit::Message)]
pub struct Point(i32, i32);

fn main() {}
