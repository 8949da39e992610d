"""grpcio against a guarded kit service: credentials in call metadata.

usage:
  auth.py PROTO_ROOT PROTO TARGET READ_TOKEN WRITE_TOKEN
      calls vault.v1 Whoami and Store with no metadata, with a read-only
      and a writing bearer token; prints one JSON object with what it saw.
"""

import json
import sys

import grpc

from client import compile_stubs


def main(root, proto, target, read_token, write_token):
    pb, pb_grpc = compile_stubs(root, proto)
    out = {}
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.VaultStub(channel)
        try:
            stub.Whoami(pb.WhoamiRequest())
            out["anonymous"] = "OK"
        except grpc.RpcError as e:
            out["anonymous"] = e.code().name
            out["challenge"] = dict(e.trailing_metadata() or []).get("www-authenticate", "")
        reader = (("authorization", "Bearer " + read_token),)
        writer = (("authorization", "Bearer " + write_token),)
        who = stub.Whoami(pb.WhoamiRequest(), metadata=reader)
        out["reader"] = {"subject": who.subject, "scopes": list(who.scopes)}
        try:
            stub.Store(pb.StoreRequest(name="x"), metadata=reader)
            out["reader_store"] = "OK"
        except grpc.RpcError as e:
            out["reader_store"] = e.code().name
        out["writer_store"] = stub.Store(pb.StoreRequest(name="x"), metadata=writer).value
        out["version"] = stub.Version(pb.VersionRequest()).value
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:6])
