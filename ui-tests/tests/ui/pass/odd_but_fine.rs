// Impl blocks with more than endpoints in them: constants, helper
// methods, items from macros, a raw identifier.
pub struct Svc;

macro_rules! helper {
    () => {
        fn helper(&self) -> u32 {
            2
        }
    };
}

#[kit::service]
impl Svc {
    const FACTOR: u32 = 3;

    helper!();

    /// Multiplies.
    #[endpoint(http = "POST /times", grpc)]
    pub async fn times(&self, n: u32) -> u32 {
        n * Self::FACTOR * self.helper()
    }

    #[endpoint(http = "GET /kind/{type}")]
    pub async fn kind(&self, r#type: String) -> String {
        r#type
    }
}

fn main() {
    let d = <Svc as kit::Endpoints>::DESCRIPTOR;
    assert_eq!(d.endpoints[1].name, "kind");
    assert_eq!(d.endpoints[1].args[0].name, "type");
}
