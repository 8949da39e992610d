//! The chain service in front of a string service: `CHAIN_UPSTREAM` is the
//! string service's URL, `CHAIN_TRANSPORT` (`http` or `grpc`) how it is
//! called. Flags and `KIT_*` variables configure the server as for any kit
//! binary.

use kit_tests::observe::chain::Chain;

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    let chain = Chain::from_env()?;
    kit::serve(chain).await
}
