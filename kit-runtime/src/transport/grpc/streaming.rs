//! Server-, client- and bidirectional-streaming gRPC methods, mounted in
//! the same server stack as unary ones; tonic does the framing, kit's
//! codec the messages, [`ServerStream`] the deadline, context and metrics
//! of a response stream.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use futures_core::Stream;
use futures_util::StreamExt;
use http::Request;

use super::routes::{oversize_is_resource_exhausted, unsupported_content_type, GrpcRoutes};
use super::{from_status, response_code, to_status, Grpc};
use crate::descriptor::EndpointDescriptor;
use crate::proto::{ProtoCodec, ProtoMessage};
use crate::stream::server::{received_counter, ServerStream};
use crate::stream::Streaming;
use crate::transport::{Protocol, ResponseCode};
use crate::{Context, Error};

type TonicStream<T> =
    std::pin::Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

impl GrpcRoutes {
    /// Mounts `handler` as the server-streaming method of `endpoint`: one
    /// request message in, a stream of response messages out.
    pub fn server_streaming<Req, Resp, F, S>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: ProtoMessage + Send + 'static,
        Resp: ProtoMessage + Send + 'static,
        F: Fn(Req) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Resp, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let limit = self.message_limit();
        self.mount(
            endpoint,
            Arc::new(move |req: Request<Body>| {
                let handler = handler.clone();
                Box::pin(async move {
                    if let Some(err) = unsupported_content_type(&req) {
                        return Ok(Grpc::error_response(&err));
                    }
                    let mut grpc = tonic::server::Grpc::new(ProtoCodec::<Resp, Req>::default())
                        .max_decoding_message_size(limit);
                    let service = tower::service_fn(move |request: tonic::Request<Req>| {
                        let out = handler(request.into_inner());
                        async move {
                            Ok::<_, tonic::Status>(tonic::Response::new(response_stream(
                                out, endpoint,
                            )))
                        }
                    });
                    Ok(finish(grpc.server_streaming(service, req).await))
                })
            }),
        );
    }

    /// Mounts `handler` as the client-streaming method of `endpoint`: a
    /// stream of request messages in, one response message out.
    pub fn client_streaming<Req, Resp, F, Fut>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: ProtoMessage + Send + 'static,
        Resp: ProtoMessage + Send + 'static,
        F: Fn(Streaming<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let limit = self.message_limit();
        self.mount(
            endpoint,
            Arc::new(move |req: Request<Body>| {
                let handler = handler.clone();
                Box::pin(async move {
                    if let Some(err) = unsupported_content_type(&req) {
                        return Ok(Grpc::error_response(&err));
                    }
                    let mut grpc = tonic::server::Grpc::new(ProtoCodec::<Resp, Req>::default())
                        .max_decoding_message_size(limit);
                    let service =
                        tower::service_fn(move |request: tonic::Request<tonic::Streaming<Req>>| {
                            let input = request_stream(request.into_inner(), endpoint);
                            let out = handler(input);
                            async move {
                                out.await
                                    .map(tonic::Response::new)
                                    .map_err(|e| to_status(&e))
                            }
                        });
                    Ok(finish(grpc.client_streaming(service, req).await))
                })
            }),
        );
    }

    /// Mounts `handler` as the bidirectional-streaming method of
    /// `endpoint`: streams both ways.
    pub fn bidi_streaming<Req, Resp, F, S>(
        &mut self,
        endpoint: &'static EndpointDescriptor,
        handler: F,
    ) where
        Req: ProtoMessage + Send + 'static,
        Resp: ProtoMessage + Send + 'static,
        F: Fn(Streaming<Req>) -> S + Send + Sync + 'static,
        S: Stream<Item = Result<Resp, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let limit = self.message_limit();
        self.mount(
            endpoint,
            Arc::new(move |req: Request<Body>| {
                let handler = handler.clone();
                Box::pin(async move {
                    if let Some(err) = unsupported_content_type(&req) {
                        return Ok(Grpc::error_response(&err));
                    }
                    let mut grpc = tonic::server::Grpc::new(ProtoCodec::<Resp, Req>::default())
                        .max_decoding_message_size(limit);
                    let service =
                        tower::service_fn(move |request: tonic::Request<tonic::Streaming<Req>>| {
                            let input = request_stream(request.into_inner(), endpoint);
                            let out = handler(input);
                            async move {
                                Ok::<_, tonic::Status>(tonic::Response::new(response_stream(
                                    out, endpoint,
                                )))
                            }
                        });
                    Ok(finish(grpc.streaming(service, req).await))
                })
            }),
        );
    }
}

/// A handler's response stream as tonic sends it.
fn response_stream<Resp, S>(out: S, endpoint: &'static EndpointDescriptor) -> TonicStream<Resp>
where
    Resp: Send + 'static,
    S: Stream<Item = Result<Resp, Error>> + Send + 'static,
{
    let served = ServerStream::new(out, Context::current(), endpoint, "grpc");
    Box::pin(served.map(|item| item.map_err(|e| to_status(&e))))
}

/// The request messages as the handler reads them, counted.
fn request_stream<Req: Send + 'static>(
    input: tonic::Streaming<Req>,
    endpoint: &'static EndpointDescriptor,
) -> Streaming<Req> {
    let received = received_counter(endpoint, "grpc");
    Streaming::new(input.map(move |item| {
        received.increment(u64::from(item.is_ok()));
        item.map_err(|status| from_status(&status))
    }))
}

fn finish(response: http::Response<tonic::body::Body>) -> Response {
    let mut response = response;
    oversize_is_resource_exhausted(&mut response);
    let code = response_code(&response);
    let mut response = response.map(Body::new);
    if code != crate::Code::Ok {
        response.extensions_mut().insert(ResponseCode(code));
    }
    response
}
