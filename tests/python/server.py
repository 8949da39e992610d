"""A reference gRPC server (grpcio) implementing the .proto kit emitted for
the example, so kit's generated client can be tested against a server that
is not kit. Prints the port it listens on, then serves until killed.

usage: server.py PROTO_ROOT PROTO_FILE
"""

import sys
from concurrent import futures

import grpc

from client import compile_stubs


def main():
    pb, pb_grpc = compile_stubs(sys.argv[1], sys.argv[2])

    class StringService(pb_grpc.StringServiceServicer):
        def Uppercase(self, request, context):
            if not request.s:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "empty string")
            return pb.UppercaseResponse(value=request.s.upper() + "!py")

        def Count(self, request, context):
            return pb.CountResponse(value=len(request.s) * 100)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_StringServiceServicer_to_server(StringService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
