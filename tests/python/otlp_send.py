"""Sends one span to an OTLP/gRPC trace receiver with the stubs that the
opentelemetry-proto package generates, as an OpenTelemetry SDK would: the
check that the test receiver (otlp_receiver.py) takes what real exporters
send.

usage: otlp_send.py HOST:PORT TRACE_ID_HEX SPAN_ID_HEX PARENT_SPAN_ID_HEX|- NAME SERVICE_NAME
"""

import sys
import time

import grpc
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def kv(key, **value):
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(**value))


def main():
    target, trace_id, span_id, parent, name, service = sys.argv[1:7]
    now = time.time_ns()
    span = trace_pb2.Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        parent_span_id=b"" if parent == "-" else bytes.fromhex(parent),
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_SERVER,
        start_time_unix_nano=now - 1_500_000,
        end_time_unix_nano=now,
        attributes=[
            kv("http.request.method", string_value="POST"),
            kv("http.response.status_code", int_value=200),
            kv("sampled.ratio", double_value=0.25),
            kv("retry", bool_value=False),
        ],
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="boom"),
    )
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(attributes=[kv("service.name", string_value=service)]),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        scope=common_pb2.InstrumentationScope(name="otlp_send", version="1"),
                        spans=[span],
                    )
                ],
            )
        ]
    )
    with grpc.insecure_channel(target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(request, timeout=5, compression=grpc.Compression.Gzip)
    print("sent")


if __name__ == "__main__":
    main()
