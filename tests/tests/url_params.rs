//! URL arguments are read with serde, like axum's `Path` and `Query`; a
//! type that cannot travel where its route puts it stops the server at
//! start, with the endpoint, the argument and the reason.

use std::collections::HashMap;

use kit::Server;

pub struct ListInPath;

#[kit::service]
impl ListInPath {
    #[endpoint(http = "GET /x/{ids}")]
    async fn x(&self, ids: Vec<u32>) -> usize {
        ids.len()
    }
}

pub struct MapInQuery;

#[kit::service]
impl MapInQuery {
    #[endpoint(http = "GET /search")]
    async fn search(&self, filter: HashMap<String, String>) -> usize {
        filter.len()
    }
}

async fn refused<S: kit::Endpoints>(service: S) -> String {
    Server::default()
        .http_addr(([127, 0, 0, 1], 0).into())
        .add_service(service)
        .bind()
        .await
        .err()
        .expect("the server refuses to start")
        .message()
        .to_string()
}

#[tokio::test]
async fn arguments_that_cannot_travel_in_a_url_are_refused_at_start() {
    let msg = refused(ListInPath).await;
    assert!(
        msg.contains("list_in_path.x: path parameter `ids: Vec < u32 >`")
            && msg.contains("holds one value"),
        "{msg}"
    );
    let msg = refused(MapInQuery).await;
    assert!(
        msg.contains("map_in_query.search: query parameter `filter")
            && msg.contains("a map cannot travel in a URL"),
        "{msg}"
    );
}
