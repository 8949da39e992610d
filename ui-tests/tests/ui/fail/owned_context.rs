pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /who")]
    async fn who(&self, ctx: kit::Context) -> String {
        ctx.trace_id().to_string()
    }
}

fn main() {}
