//! A call over gRPC with no generated code: the request message is built
//! from the server's reflection and the JSON given, sent as bytes, and the
//! answer decoded the same way.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;
use tonic::transport::Channel;

use crate::grpc::{RawCodec, Reflection};
use crate::Failure;

/// A method found through reflection.
pub struct Method {
    /// `/strings.v1.StringService/Uppercase`.
    pub path: String,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// It answers a stream of messages.
    pub server_streaming: bool,
}

/// Looks `service`/`method` up (full protobuf names) on the server.
pub async fn resolve(
    reflection: &mut Reflection,
    base: &str,
    service: &str,
    method: &str,
) -> Result<Method, Failure> {
    let unknown = |reflection_services: Vec<String>| {
        Failure::new(format!(
            "{base}: unknown method `{service}/{method}` (the server has {})",
            reflection_services.join(", ")
        ))
    };
    let Some(pool) = reflection.pool_for(service).await? else {
        let services = reflection.services().await.unwrap_or_default();
        return Err(unknown(services));
    };
    let Some(svc) = pool.get_service_by_name(service) else {
        let services = reflection.services().await.unwrap_or_default();
        return Err(unknown(services));
    };
    let Some(m) = svc.methods().find(|m| m.name() == method) else {
        let methods: Vec<String> = svc
            .methods()
            .map(|m| format!("{service}/{}", m.name()))
            .collect();
        return Err(Failure::new(format!(
            "{base}: unknown method `{service}/{method}` ({service} has {})",
            methods.join(", ")
        )));
    };
    if m.is_client_streaming() {
        return Err(Failure::new(format!(
            "{service}/{method} takes a stream of requests; kit call sends one request (unary and server-streaming methods)"
        )));
    }
    Ok(Method {
        path: format!("/{service}/{method}"),
        input: m.input(),
        output: m.output(),
        server_streaming: m.is_server_streaming(),
    })
}

/// The request message from `args` (protobuf's JSON mapping; field names
/// as in the .proto or in lowerCamelCase). `body_arg` is a kit endpoint's
/// lone `#[body]` argument: `{"item": {...}}` is then taken as the message
/// `{...}` itself, so one JSON works on both transports.
pub fn encode(method: &Method, args: &Value, body_arg: Option<&str>) -> Result<Bytes, Failure> {
    let mut args = args.clone();
    if let (Some(name), Value::Object(map)) = (body_arg, &args) {
        if map.len() == 1 && method.input.get_field_by_name(name).is_none() {
            if let Some(inner) = map.get(name) {
                args = inner.clone();
            }
        }
    }
    if args.is_null() {
        args = Value::Object(Default::default());
    }
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let message = DynamicMessage::deserialize_with_options(method.input.clone(), args, &options)
        .map_err(|e| {
            Failure::new(format!(
                "the JSON does not fit {}: {e}",
                method.input.full_name()
            ))
        })?;
    Ok(Bytes::from(message.encode_to_vec()))
}

/// The answer as JSON (proto field names, 64-bit integers as numbers,
/// default values written out, as kit's HTTP/JSON does).
pub fn decode(method: &Method, bytes: Bytes) -> Result<Value, Failure> {
    let message = DynamicMessage::decode(method.output.clone(), bytes).map_err(|e| {
        Failure::new(format!(
            "the answer is not a {}: {e}",
            method.output.full_name()
        ))
    })?;
    let options = SerializeOptions::new()
        .stringify_64_bit_integers(false)
        .use_proto_field_name(true)
        .skip_default_fields(false);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| Failure::new(format!("cannot write the answer as JSON: {e}")))
}

/// Sends one unary call; the answer's bytes or the status.
pub async fn send(
    channel: Channel,
    path: &str,
    request: Bytes,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<Result<Bytes, tonic::Status>, Failure> {
    let (mut grpc, path, req) = prepare(channel, path, request, headers, timeout).await?;
    Ok(grpc
        .unary(req, path, RawCodec)
        .await
        .map(|reply| reply.into_inner()))
}

/// Sends one server-streaming call and reads the stream to its end: the
/// messages' bytes, and the status that ended it if it was not OK.
pub async fn send_streaming(
    channel: Channel,
    path: &str,
    request: Bytes,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<(Vec<Bytes>, Option<tonic::Status>), Failure> {
    let (mut grpc, path, req) = prepare(channel, path, request, headers, timeout).await?;
    let mut stream = match grpc.server_streaming(req, path, RawCodec).await {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Ok((Vec::new(), Some(status))),
    };
    let mut messages = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(bytes)) => messages.push(bytes),
            Ok(None) => return Ok((messages, None)),
            Err(status) => return Ok((messages, Some(status))),
        }
    }
}

async fn prepare(
    channel: Channel,
    path: &str,
    request: Bytes,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<
    (
        tonic::client::Grpc<Channel>,
        PathAndQuery,
        tonic::Request<Bytes>,
    ),
    Failure,
> {
    let path = PathAndQuery::from_str(path)
        .map_err(|e| Failure::new(format!("`{path}` is not a gRPC path: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return Err(Failure::new(format!("the gRPC channel is not ready: {e}")));
    }
    let mut req = tonic::Request::new(request);
    req.set_timeout(timeout);
    for (k, v) in headers {
        let key = tonic::metadata::MetadataKey::from_bytes(k.as_bytes())
            .map_err(|_| Failure::new(format!("`{k}` is not a gRPC metadata name")))?;
        let value = tonic::metadata::MetadataValue::try_from(v.as_str())
            .map_err(|_| Failure::new(format!("`{v}` is not a gRPC metadata value")))?;
        req.metadata_mut().insert(key, value);
    }
    Ok((grpc, path, req))
}
