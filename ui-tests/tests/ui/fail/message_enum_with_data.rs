#[derive(kit::Message)]
pub enum Shape {
    Empty,
    Circle(f64),
}

fn main() {}
