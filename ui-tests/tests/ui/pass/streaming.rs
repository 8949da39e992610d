//! Every streaming shape: server streams as `impl Stream` of items or of
//! results, as `kit::Streaming`, over HTTP and gRPC; client and
//! bidirectional streams over gRPC, with a context argument.

use kit::{Context, Stream, Streaming};

#[derive(Clone, Default, serde::Serialize, serde::Deserialize, kit::Message)]
pub struct Word {
    pub text: String,
}

#[derive(Debug)]
pub struct Oops;

impl From<Oops> for kit::Error {
    fn from(_: Oops) -> kit::Error {
        kit::Error::internal("oops")
    }
}

pub struct Svc;

#[kit::service(retry = 2)]
impl Svc {
    #[endpoint(http = "GET /plain/{n}", grpc)]
    pub async fn plain(&self, n: u32) -> impl Stream<Item = u32> {
        kit::stream::iter(0..n)
    }

    #[endpoint(http = "POST /fallible", grpc, timeout = "1s")]
    pub async fn fallible(&self, n: u32, ctx: &Context) -> impl Stream<Item = Result<Word, Oops>> + Send {
        let _ = ctx.trace_id();
        kit::stream::iter((0..n).map(|i| Ok(Word { text: i.to_string() })))
    }

    #[endpoint(http = "GET /boxed")]
    pub async fn boxed(&self) -> Streaming<String> {
        Streaming::iter(vec!["a".to_string()])
    }

    #[endpoint(grpc)]
    pub async fn collect(&self, words: Streaming<Word>) -> Result<Vec<String>, kit::Error> {
        let mut words = words;
        let mut out = Vec::new();
        while let Some(w) = words.message().await? {
            out.push(w.text);
        }
        Ok(out)
    }

    #[endpoint(grpc)]
    pub async fn echo(&self, ctx: &Context, words: Streaming<Word>) -> impl Stream<Item = Result<Word, kit::Error>> {
        let _ = ctx;
        words
    }
}

async fn use_client(c: SvcClient) -> Result<(), kit::Error> {
    let _: Streaming<u32> = c.plain(3).await?;
    let _: Streaming<Word> = c.fallible(3).await?;
    let _: Streaming<String> = c.boxed().await?;
    let _: Vec<String> = c.collect(kit::stream::iter(vec![Word::default()])).await?;
    let _: Streaming<Word> = c.echo(kit::stream::iter(vec![Word::default()])).await?;
    Ok(())
}

fn main() {
    let _ = use_client;
}
