//! A real process for shutdown tests: the probe service, configured from
//! flags and environment like any kit service.

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::serve(kit_tests::probe::Probe::default()).await
}
