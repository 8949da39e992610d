// What users reach for: newtype ids, enums returned, enums with data,
// result aliases, raw identifiers, repeated and enum query parameters.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
#[serde(transparent)]
pub struct Id(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub enum Kind {
    Unknown,
    Big,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, kit::Message)]
pub enum Shape {
    Circle { r: f64 },
    Label(String),
    Blank,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum MyError {
    Gone,
}

impl From<MyError> for kit::Error {
    fn from(e: MyError) -> kit::Error {
        kit::Error::not_found("gone").with_typed(&e)
    }
}

pub type MyResult<T> = Result<T, MyError>;
pub type Sku = String;

pub struct Svc;

#[kit::service]
impl Svc {
    #[endpoint(http = "GET /kind/{id}", grpc)]
    async fn kind(&self, id: Id) -> MyResult<Kind> {
        let _ = id;
        Ok(Kind::Big)
    }

    #[endpoint(http = "GET /sku", grpc)]
    async fn sku(&self, r#type: Kind, tag: Vec<String>) -> Sku {
        format!("{type:?}{}", tag.len(), type = r#type)
    }

    #[endpoint(http = "POST /shape", grpc)]
    async fn shape(&self, #[body] shape: Shape) -> kit::Result<Shape> {
        Ok(shape)
    }

    #[endpoint(http = "DELETE /x/{id}", grpc)]
    async fn delete(&self, id: Id) -> MyResult<()> {
        let _ = id;
        Err(MyError::Gone)
    }
}

async fn calls(c: SvcClient) -> Result<(), kit::Error> {
    let _: Kind = c.kind(Id("a".into())).await?;
    let _: String = c.sku(Kind::Big, vec![]).await?;
    let _: Shape = c.with_timeout(std::time::Duration::from_secs(1)).shape(Shape::Blank).await?;
    c.delete(Id("a".into())).await
}

fn main() {
    let _ = calls;
}
