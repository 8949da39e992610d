//! The inventory service and the shared-package pair in one binary, as a
//! team deploys several services together.

#[tokio::main]
async fn main() -> Result<(), kit::Error> {
    kit::Cli::parse()
        .run(|server| {
            server
                .add_service(kit_tests::inventory::Inventory::default())
                .add_service(kit_tests::shared::Orders)
                .add_service(kit_tests::shared::Refunds)
        })
        .await
}
