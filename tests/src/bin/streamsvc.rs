//! The streaming test service as a process, for clients in other languages.

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::serve(kit_tests::streams::StreamService::default()).await
}
