//! gRPC without generated code: a channel, server reflection (v1, falling
//! back to v1alpha) into a prost-reflect descriptor pool, a codec that
//! moves bytes, and the standard health check.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use tonic::transport::{Channel, Endpoint};

use crate::Failure;

/// A channel to `base` (`http://host:port`, or `https://host:port` over
/// TLS as `tls` says, the system's CAs without it), connected.
pub async fn connect(
    base: &str,
    timeout: Duration,
    tls: Option<&kit::tls::ClientTls>,
) -> Result<Channel, Failure> {
    let endpoint = Endpoint::from_shared(base.to_string())
        .map_err(|e| Failure::new(format!("{base}: not a URL for gRPC: {e}")))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let connect = async {
        if base.starts_with("https://") {
            let connector = kit::tls::hyper_connector(tls, true)
                .map_err(|e| Failure::new(e.message().to_string()))?;
            Ok(endpoint.connect_with_connector(connector).await)
        } else {
            Ok(endpoint.connect().await)
        }
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(Err(failure)) => Err(failure),
        Ok(Ok(connected)) => match connected {
            Ok(channel) => Ok(channel),
            Err(e) => Err(crate::http::unreachable(base, &e)),
        },
        Err(_) => Err(Failure::new(format!(
            "{base}: no gRPC connection within {}",
            humantime::format_duration(timeout)
        ))),
    }
}

/// `CODE: message` of a gRPC status, with kit's names for the codes.
pub fn status_line(status: &tonic::Status) -> String {
    let code = kit::Code::from_i32(status.code() as i32);
    format!("{}: {}", code.as_str(), status.message())
}

/// What the reflection service can be asked.
enum Ask {
    Symbol(String),
    File(String),
    List,
}

/// What it answered.
enum Answer {
    Files(Vec<Vec<u8>>),
    Services(Vec<String>),
    Error(String),
}

macro_rules! reflection_exchange {
    ($module:ident, $channel:expr, $ask:expr) => {{
        use tonic_reflection::pb::$module::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$module::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$module::server_reflection_response::MessageResponse;
        use tonic_reflection::pb::$module::ServerReflectionRequest;
        let message_request = match $ask {
            Ask::Symbol(s) => MessageRequest::FileContainingSymbol(s.clone()),
            Ask::File(f) => MessageRequest::FileByFilename(f.clone()),
            Ask::List => MessageRequest::ListServices(String::new()),
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message_request),
        };
        let mut client = ServerReflectionClient::new($channel);
        let mut answers = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await?
            .into_inner();
        match answers.message().await? {
            Some(reply) => match reply.message_response {
                Some(MessageResponse::FileDescriptorResponse(f)) => {
                    Answer::Files(f.file_descriptor_proto)
                }
                Some(MessageResponse::ListServicesResponse(l)) => {
                    Answer::Services(l.service.into_iter().map(|s| s.name).collect())
                }
                Some(MessageResponse::ErrorResponse(e)) => Answer::Error(e.error_message),
                _ => Answer::Error("an answer of the wrong kind".into()),
            },
            None => Answer::Error("no answer".into()),
        }
    }};
}

/// Server reflection on one channel.
pub struct Reflection {
    channel: Channel,
    base: String,
    alpha: bool,
}

impl Reflection {
    pub fn new(channel: Channel, base: &str) -> Reflection {
        Reflection {
            channel,
            base: base.to_string(),
            alpha: false,
        }
    }

    async fn ask(&mut self, ask: &Ask) -> Result<Answer, Failure> {
        let answer = if self.alpha {
            self.ask_v1alpha(ask).await
        } else {
            match self.ask_v1(ask).await {
                Err(s) if s.code() == tonic::Code::Unimplemented => {
                    self.alpha = true;
                    self.ask_v1alpha(ask).await
                }
                other => other,
            }
        };
        match answer {
            // tonic's reflection answers an unknown symbol with a status.
            Err(s) if s.code() == tonic::Code::NotFound => Ok(Answer::Error(s.message().into())),
            other => other.map_err(|s| self.failed(&s)),
        }
    }

    fn failed(&self, status: &tonic::Status) -> Failure {
        if status.code() == tonic::Code::Unimplemented {
            return Failure::new(format!(
                "{}: the server offers no gRPC reflection (grpc.reflection.v1 or v1alpha)",
                self.base
            ));
        }
        Failure::new(format!(
            "{}: no gRPC reflection answer (is it a gRPC server?): {}",
            self.base,
            status_line(status)
        ))
    }

    async fn ask_v1(&self, ask: &Ask) -> Result<Answer, tonic::Status> {
        Ok(reflection_exchange!(v1, self.channel.clone(), ask))
    }

    async fn ask_v1alpha(&self, ask: &Ask) -> Result<Answer, tonic::Status> {
        Ok(reflection_exchange!(v1alpha, self.channel.clone(), ask))
    }

    /// The services the server lists (reflection and health included).
    pub async fn services(&mut self) -> Result<Vec<String>, Failure> {
        match self.ask(&Ask::List).await? {
            Answer::Services(s) => Ok(s),
            Answer::Error(e) => Err(Failure::new(format!("{}: reflection: {e}", self.base))),
            Answer::Files(_) => Err(Failure::new(format!(
                "{}: reflection answered files to a list",
                self.base
            ))),
        }
    }

    /// A pool with the file that defines `symbol` and every file it
    /// imports, fetched file by file; `None` if the server does not know
    /// the symbol.
    pub async fn pool_for(&mut self, symbol: &str) -> Result<Option<DescriptorPool>, Failure> {
        let mut files: BTreeMap<String, FileDescriptorProto> = BTreeMap::new();
        let first = match self.ask(&Ask::Symbol(symbol.to_string())).await? {
            Answer::Files(f) => f,
            Answer::Error(_) => return Ok(None),
            Answer::Services(_) => return Ok(None),
        };
        self.add_files(&mut files, first)?;
        let mut pool = DescriptorPool::global();
        loop {
            let missing: Vec<String> = files
                .values()
                .flat_map(|f| f.dependency.iter())
                .filter(|d| !files.contains_key(*d) && pool.get_file_by_name(d).is_none())
                .cloned()
                .collect();
            let Some(next) = missing.first() else { break };
            match self.ask(&Ask::File(next.clone())).await? {
                Answer::Files(f) if !f.is_empty() => self.add_files(&mut files, f)?,
                _ => {
                    return Err(Failure::new(format!(
                        "{}: reflection does not give `{next}`, which `{symbol}` needs",
                        self.base
                    )))
                }
            }
        }
        let new: Vec<FileDescriptorProto> = files
            .into_values()
            .filter(|f| pool.get_file_by_name(f.name()).is_none())
            .collect();
        pool.add_file_descriptor_protos(new).map_err(|e| {
            Failure::new(format!(
                "{}: reflection gave descriptors that do not fit: {e}",
                self.base
            ))
        })?;
        Ok(Some(pool))
    }

    fn add_files(
        &self,
        files: &mut BTreeMap<String, FileDescriptorProto>,
        encoded: Vec<Vec<u8>>,
    ) -> Result<(), Failure> {
        for bytes in encoded {
            let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| {
                Failure::new(format!(
                    "{}: reflection gave a bad descriptor: {e}",
                    self.base
                ))
            })?;
            files.insert(file.name().to_string(), file);
        }
        Ok(())
    }
}

/// `grpc.health.v1.Health/Check` for the whole server: `SERVING`, ...
pub async fn health(channel: Channel) -> Result<String, tonic::Status> {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    Ok(reply.status().as_str_name().to_string())
}

/// A tonic codec that sends and receives encoded messages as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, tonic::Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}
