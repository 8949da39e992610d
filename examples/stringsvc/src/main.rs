//! Serves the example: `cargo run -p stringsvc -- --http-addr 127.0.0.1:8080`.

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::serve(stringsvc::StringService).await
}
