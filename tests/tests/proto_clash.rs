//! Two services in one protobuf package whose messages clash are refused
//! when the server starts, naming the message.

use kit::Server;

pub struct First;

#[kit::service(package = "clash.v1")]
impl First {
    #[endpoint(grpc)]
    async fn get(&self, id: u32) -> u32 {
        id
    }
}

pub struct Second;

#[kit::service(package = "clash.v1")]
impl Second {
    #[endpoint(grpc)]
    async fn get(&self, name: String) -> String {
        name
    }
}

#[tokio::test]
async fn clashing_messages_in_one_package_are_refused_at_start() {
    let err = Server::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .add_service(First)
        .add_service(Second)
        .bind()
        .await
        .err()
        .expect("the clash is refused");
    let msg = err.message().to_string();
    assert!(
        msg.contains("two different messages are named `clash.v1.Get"),
        "{msg}"
    );
    assert!(Server::default().add_service(First).protos().is_ok());
}
