"""grpcio and kit's streaming methods, both ways.

usage:
  streaming.py client PROTO_ROOT STREAMS_PROTO STRINGS_PROTO STREAMS_TARGET STRINGS_TARGET
      calls every streaming method of the kit test service (streams.v1) and
      the example's Letters, with stubs compiled from the .proto kit
      emitted; prints one JSON object with what it saw.
  streaming.py server PROTO_ROOT STREAMS_PROTO
      serves streams.v1 from grpcio (CountTo, FailAfter, Sum, Shout) so
      kit's generated client can be tested against it; prints its port.
"""

import json
import sys
from concurrent import futures

import grpc

from client import compile_stubs


def rpc_error(e):
    return {"code": e.code().name, "message": e.details()}


def client(root, streams_proto, strings_proto, streams_target, strings_target):
    pb, pb_grpc = compile_stubs(root, streams_proto)
    spb, spb_grpc = compile_stubs(root, strings_proto)
    out = {}
    with grpc.insecure_channel(strings_target) as channel:
        stub = spb_grpc.StringServiceStub(channel)
        out["letters"] = [r.value for r in stub.Letters(spb.LettersRequest(s="abc"))]
    with grpc.insecure_channel(streams_target) as channel:
        stub = pb_grpc.StreamServiceStub(channel)
        out["count_to"] = [r.value for r in stub.CountTo(pb.CountToRequest(n=4))]
        seen = []
        try:
            for r in stub.FailAfter(pb.FailAfterRequest(after=2)):
                seen.append(r.value)
        except grpc.RpcError as e:
            out["fail_after_error"] = rpc_error(e)
        out["fail_after"] = seen
        out["points"] = [[p.x, p.y] for p in stub.Points(pb.PointsRequest(n=3))]
        out["sum"] = stub.Sum(pb.SumRequest(nums=n) for n in range(1, 101)).value
        out["shout"] = [r.value for r in stub.Shout(pb.ShoutRequest(words=w) for w in ["py", "to", "kit"])]
        try:
            list(stub.Ticks(pb.TicksRequest()))
        except grpc.RpcError as e:
            out["ticks_error"] = rpc_error(e)
        # Cancelling a call mid-stream: the server's producer must go away.
        call = stub.Flood(pb.FloodRequest(size=8))
        out["flood_first"] = len(next(call).value)
        call.cancel()
    print(json.dumps(out), flush=True)


def server(root, streams_proto):
    pb, pb_grpc = compile_stubs(root, streams_proto)

    class StreamService(pb_grpc.StreamServiceServicer):
        def CountTo(self, request, context):
            for i in range(request.n):
                yield pb.CountToResponse(value=i * 10)

        def FailAfter(self, request, context):
            for i in range(request.after):
                yield pb.FailAfterResponse(value=i)
            context.abort(grpc.StatusCode.NOT_FOUND, "python has nothing more")

        def Sum(self, request_iterator, context):
            return pb.SumResponse(value=sum(r.nums for r in request_iterator) + 1)

        def Shout(self, request_iterator, context):
            for r in request_iterator:
                yield pb.ShoutResponse(value=r.words.upper() + "!")

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_StreamServiceServicer_to_server(StreamService(), srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    print(port, flush=True)
    srv.wait_for_termination()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(*sys.argv[2:7])
    else:
        server(*sys.argv[2:4])
