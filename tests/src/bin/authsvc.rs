//! The guarded test service as a process: flags configure its
//! authenticators; `VAULT_RELAY_TO` is where `relay` calls.

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::serve(kit_tests::auth::Vault::default()).await
}
