//! Receivers that take what a kit server sends and count it, for the
//! observability benchmark: `sinks otlp PORT` (an OTLP/gRPC trace
//! receiver), `sinks statsd PORT` (UDP), `sinks graphite PORT` (TCP).
//! Each runs until killed and prints what it received on SIGTERM.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::io::AsyncReadExt;

#[derive(Default, Clone)]
struct Count(Arc<AtomicU64>);

#[tonic::async_trait]
impl TraceService for Count {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.fetch_add(spans as u64, Ordering::Relaxed);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(port)) = (args.next(), args.next().and_then(|p| p.parse::<u16>().ok()))
    else {
        eprintln!("usage: sinks otlp|statsd|graphite PORT");
        std::process::exit(2)
    };
    let count = Count::default();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let received = count.0.clone();
    let serve = async move {
        match kind.as_str() {
            "otlp" => {
                let _ = tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(count))
                    .serve(addr)
                    .await;
            }
            "statsd" => {
                let socket = tokio::net::UdpSocket::bind(addr).await.expect("bind udp");
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = socket.recv(&mut buf).await {
                    let lines = buf[..n].split(|b| *b == b'\n').count();
                    count.0.fetch_add(lines as u64, Ordering::Relaxed);
                }
            }
            "graphite" => {
                let listener = tokio::net::TcpListener::bind(addr).await.expect("bind tcp");
                while let Ok((mut tcp, _)) = listener.accept().await {
                    let count = count.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = tcp.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            let lines = buf[..n].iter().filter(|b| **b == b'\n').count();
                            count.0.fetch_add(lines as u64, Ordering::Relaxed);
                        }
                    });
                }
            }
            _ => {
                eprintln!("usage: sinks otlp|statsd|graphite PORT");
                std::process::exit(2)
            }
        }
    };
    tokio::select! {
        () = serve => {}
        () = kit::server::shutdown_signal() => {}
    }
    println!("received {}", received.load(Ordering::Relaxed));
}
