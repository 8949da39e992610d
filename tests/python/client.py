"""A reference gRPC client (grpcio) for kit's interop tests.

Stubs are compiled by grpcio-tools from the .proto that kit emits, so this
is exactly what a Python user of a kit service does. Prints one JSON object
with what it observed; the Rust test asserts on it.

usage: client.py strings|probe|reflect PROTO_ROOT PROTO_FILE TARGET
"""

import importlib
import json
import sys
import tempfile

import grpc
from grpc_tools import protoc


def compile_stubs(root, proto_file):
    out = tempfile.mkdtemp()
    include = importlib.resources.files("grpc_tools") / "_proto"
    rc = protoc.main(["protoc", f"-I{root}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", proto_file])
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")
    sys.path.insert(0, out)
    module = proto_file[: -len(".proto")].replace("/", ".")
    return importlib.import_module(module + "_pb2"), importlib.import_module(module + "_pb2_grpc")


def status_of(call):
    try:
        return {"ok": call()}
    except grpc.RpcError as e:
        return {"code": e.code().name, "message": e.details()}


def strings(pb, pb_grpc, channel):
    stub = pb_grpc.StringServiceStub(channel)
    out = {
        "uppercase": status_of(lambda: stub.Uppercase(pb.UppercaseRequest(s="hello")).value),
        "count": status_of(lambda: stub.Count(pb.CountRequest(s="hello")).value),
        "empty": status_of(lambda: stub.Uppercase(pb.UppercaseRequest(s="")).value),
    }
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(channel)
    out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(health.Check(health_pb2.HealthCheckRequest(service="")).status)
    out["health_service"] = health_pb2.HealthCheckResponse.ServingStatus.Name(
        health.Check(health_pb2.HealthCheckRequest(service="strings.v1.StringService")).status
    )
    return out


def probe(pb, pb_grpc, channel):
    stub = pb_grpc.ProbeStub(channel)
    item = pb.Item(id=3, name="three", tags=["a", "b"])
    return {
        "get_item": status_of(lambda: stub.GetItem(pb.GetItemRequest(id=7, verbose=True)).name),
        "put_item": status_of(lambda: list(stub.PutItem(pb.PutItemRequest(id=3, item=item)).tags)),
        "search": status_of(lambda: list(stub.Search(pb.SearchRequest(q="x", limit=3)).value)),
        "search_default": status_of(lambda: len(stub.Search(pb.SearchRequest(q="x")).value)),
        "delete_locked": status_of(lambda: str(stub.DeleteItem(pb.DeleteItemRequest(id=0)))),
        "not_found": status_of(lambda: stub.Lookup(pb.LookupRequest(key="k")).value),
        "slow": status_of(lambda: stub.Slow(pb.SlowRequest(millis=5000)).value),
        "client_deadline": status_of(lambda: stub.Sleep(pb.SleepRequest(millis=5000), timeout=0.2).value),
        "panic": status_of(lambda: stub.Panic(pb.PanicRequest()).value),
    }


def reflect(target, symbol, method, request_field, value):
    """Lists services and calls a method knowing nothing but reflection."""
    from google.protobuf import descriptor_pool, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    channel = grpc.insecure_channel(target)
    db = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(db.get_services())
    pool = descriptor_pool.DescriptorPool(db)
    service = pool.FindServiceByName(symbol)
    m = service.FindMethodByName(method)
    request_cls = message_factory.GetMessageClass(m.input_type)
    response_cls = message_factory.GetMessageClass(m.output_type)
    call = channel.unary_unary(
        f"/{symbol}/{method}",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    response = call(request_cls(**{request_field: value}))
    return {"services": services, "methods": [x.name for x in service.methods], "response": str(getattr(response, "value"))}


def main():
    suite = sys.argv[1]
    if suite == "reflect":
        print(json.dumps(reflect(*sys.argv[2:])))
        return
    root, proto_file, target = sys.argv[2:5]
    pb, pb_grpc = compile_stubs(root, proto_file)
    with grpc.insecure_channel(target) as channel:
        result = {"strings": strings, "probe": probe}[suite](pb, pb_grpc, channel)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
