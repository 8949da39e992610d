"""An OTLP/gRPC trace receiver: implements
opentelemetry.proto.collector.trace.v1.TraceService/Export with the
servicer that the opentelemetry-proto package generates, and appends every
span it receives to a file as one JSON line. The observability tests start
it in place of an OpenTelemetry Collector and read the file.

usage: otlp_receiver.py PORT OUT_FILE [http]

With `http`, it is an OTLP/HTTP receiver instead: POST /v1/traces with an
application/x-protobuf ExportTraceServiceRequest body (decoded by the same
generated message class).

Prints `listening PORT` once it accepts calls, then serves until killed.
Each line of OUT_FILE is one span:

    {"trace_id": hex, "span_id": hex, "parent_span_id": hex or "",
     "trace_state": str, "flags": int, "name": str,
     "kind": int, "kind_name": "SERVER" | "CLIENT" | ...,
     "attributes": {key: typed value}, "status": {"code": int,
     "code_name": "UNSET" | "OK" | "ERROR", "message": str},
     "start_time_unix_nano": int, "end_time_unix_nano": int,
     "resource": {key: typed value}, "service_name": str or null,
     "scope": {"name": str, "version": str},
     "events": [{"name", "time_unix_nano", "attributes"}], "links": int}
"""

import json
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)
from opentelemetry.proto.trace.v1 import trace_pb2

KIND_NAMES = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "UNSPECIFIED",
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}

STATUS_NAMES = {
    trace_pb2.Status.STATUS_CODE_UNSET: "UNSET",
    trace_pb2.Status.STATUS_CODE_OK: "OK",
    trace_pb2.Status.STATUS_CODE_ERROR: "ERROR",
}


def any_value(v):
    """An AnyValue as the JSON value of its type."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def span_json(resource, scope, span):
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "trace_state": span.trace_state,
        "flags": span.flags,
        "name": span.name,
        "kind": span.kind,
        "kind_name": KIND_NAMES.get(span.kind, str(span.kind)),
        "attributes": attributes(span.attributes),
        "status": {
            "code": span.status.code,
            "code_name": STATUS_NAMES.get(span.status.code, str(span.status.code)),
            "message": span.status.message,
        },
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "resource": resource,
        "service_name": resource.get("service.name"),
        "scope": {"name": scope.name, "version": scope.version},
        "events": [
            {
                "name": e.name,
                "time_unix_nano": e.time_unix_nano,
                "attributes": attributes(e.attributes),
            }
            for e in span.events
        ],
        "links": len(span.links),
    }


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, path):
        self.lock = threading.Lock()
        self.out = open(path, "a", encoding="utf-8")

    def Export(self, request, context):
        lines = []
        for rs in request.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    lines.append(json.dumps(span_json(resource, ss.scope, span)))
        with self.lock:
            for line in lines:
                self.out.write(line + "\n")
            self.out.flush()
        return trace_service_pb2.ExportTraceServiceResponse()


def serve_http(port, receiver):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            if self.headers.get("content-type") != "application/x-protobuf":
                self.send_error(415)
                return
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            answer = receiver.Export(request, None).SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("listening %d" % port, flush=True)
    server.serve_forever()


def main():
    port = int(sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[3] == "http":
        serve_http(port, Receiver(sys.argv[2]))
        return
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        # Another process bound to the same port must be an error, not a
        # silent second listener.
        options=[("grpc.so_reuseport", 0)],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(sys.argv[2]), server)
    try:
        bound = server.add_insecure_port("127.0.0.1:%d" % port)
    except RuntimeError as e:
        sys.exit("cannot listen on 127.0.0.1:%d: %s" % (port, e))
    if bound != port:
        sys.exit("cannot listen on 127.0.0.1:%d (got %r)" % (port, bound))
    server.start()
    print("listening %d" % port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
