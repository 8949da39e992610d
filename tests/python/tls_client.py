"""A grpcio client over TLS (and mTLS) for kit's TLS interop test.

Stubs come from the .proto kit emits (as in client.py); the channel is
grpc.secure_channel with grpc.ssl_channel_credentials. Prints one JSON
object: the answer of Uppercase, or the status code of its failure.

usage: tls_client.py PROTO_ROOT PROTO_FILE TARGET CA_PEM [CERT_PEM KEY_PEM]
"""

import json
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import compile_stubs  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    root, proto_file, target, ca = sys.argv[1:5]
    cert = read(sys.argv[5]) if len(sys.argv) > 5 else None
    key = read(sys.argv[6]) if len(sys.argv) > 6 else None
    pb, pb_grpc = compile_stubs(root, proto_file)
    credentials = grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=key, certificate_chain=cert)
    with grpc.secure_channel(target, credentials) as channel:
        stub = pb_grpc.StringServiceStub(channel)
        try:
            out = {"ok": stub.Uppercase(pb.UppercaseRequest(s="secure"), timeout=10).value}
        except grpc.RpcError as e:
            out = {"code": e.code().name, "message": e.details()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
