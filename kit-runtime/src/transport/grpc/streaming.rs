//! Server-, client- and bidirectional-streaming gRPC methods, mounted in
//! the same server stack as unary ones; tonic does the framing, kit's
//! codec the messages, [`ServerStream`] the deadline, context and metrics
//! of a response stream.

use std::future::Future;
use std::sync::Arc;

use futures_core::Stream;
use futures_util::StreamExt;

use super::routes::GrpcRoutes;
use super::{from_status, to_status};
use crate::descriptor::EndpointDescriptor;
use crate::proto::ProtoMessage;
use crate::stream::server::{received_counter, ServerStream};
use crate::stream::Streaming;
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
        self.mount_tonic::<Req, Resp, _, _>(endpoint, move |mut grpc, req| {
            let handler = handler.clone();
            let service = tower::service_fn(move |request: tonic::Request<Req>| {
                let out = handler(request.into_inner());
                let answer = tonic::Response::new(response_stream(out, endpoint));
                std::future::ready(Ok::<_, tonic::Status>(answer))
            });
            async move { grpc.server_streaming(service, req).await }
        });
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
        self.mount_tonic::<Req, Resp, _, _>(endpoint, move |mut grpc, req| {
            let handler = handler.clone();
            let service =
                tower::service_fn(move |request: tonic::Request<tonic::Streaming<Req>>| {
                    let out = handler(request_stream(request.into_inner(), endpoint));
                    async move {
                        out.await
                            .map(tonic::Response::new)
                            .map_err(|e| to_status(&e))
                    }
                });
            async move { grpc.client_streaming(service, req).await }
        });
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
        self.mount_tonic::<Req, Resp, _, _>(endpoint, move |mut grpc, req| {
            let handler = handler.clone();
            let service =
                tower::service_fn(move |request: tonic::Request<tonic::Streaming<Req>>| {
                    let out = handler(request_stream(request.into_inner(), endpoint));
                    let answer = tonic::Response::new(response_stream(out, endpoint));
                    std::future::ready(Ok::<_, tonic::Status>(answer))
                });
            async move { grpc.streaming(service, req).await }
        });
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
