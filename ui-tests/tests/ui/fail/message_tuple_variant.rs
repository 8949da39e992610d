#[derive(kit::Message)]
pub enum Shape {
    Point(f64, f64),
    Blank,
}

fn main() {}
