#!/usr/bin/python3
# A client of the snapshots service of the tests' own, to reach brisk-snapshotter without
# containerd in between (containerd's metadata layer answers many errors before the daemon sees
# them). Messages come from the daemon's own .proto files, compiled here with protoc.
#
#   snapclient.py SOCKET METHOD ARGS...
#     prepare|view KEY [PARENT] [-l NAME=VALUE]...   commit NAME KEY [-l NAME=VALUE]...
#     mounts|stat|usage|remove KEY                   update KEY [-m PATH]... [-l NAME=VALUE]...
#     list [FILTER]...                               cleanup
#     raw METHOD HEX                                 (request bytes as given)
#     bad-label-prepare KEY HEXNAME HEXVALUE         (a label of any bytes)
#
# Prints the answer as JSON; on a gRPC error prints "CODE: message" and exits 1.
import argparse
import json
import os
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import json_format

SERVICE = "/containerd.services.snapshots.v1.Snapshots/"
HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(os.environ.get("SOURCE_ROOT", os.path.join(HERE, "../../..")),
                         "snapshotter")


def load_messages():
    with tempfile.TemporaryDirectory(prefix="snapclient.") as out:
        subprocess.run(["protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + out,
                        "snapshots.proto", "mount.proto"], check=True)
        sys.path.insert(0, out)
        import snapshots_pb2
        sys.path.remove(out)
    return snapshots_pb2


def varint(n):
    b = bytearray()
    while True:
        if n < 0x80:
            b.append(n)
            return bytes(b)
        b.append((n & 0x7f) | 0x80)
        n >>= 7


def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def call(channel, method, request, response_type):
    stub = channel.unary_unary(SERVICE + method, request_serializer=lambda b: b,
                               response_deserializer=response_type.FromString)
    return stub(request, timeout=30)


def labels_of(pairs):
    out = {}
    for p in pairs or []:
        name, _, value = p.partition("=")
        out[name] = value
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("method")
    ap.add_argument("args", nargs="*")
    ap.add_argument("-l", "--label", action="append")
    ap.add_argument("-m", "--mask", action="append")
    a = ap.parse_args()
    pb = load_messages()
    channel = grpc.insecure_channel("unix:" + a.socket)
    m, args, labels = a.method, a.args, labels_of(a.label)
    try:
        if m in ("prepare", "view"):
            req = pb.PrepareSnapshotRequest(key=args[0], parent=args[1] if len(args) > 1 else "",
                                            labels=labels)
            resp = call(channel, m.capitalize(), req.SerializeToString(), pb.MountsResponse)
        elif m == "commit":
            req = pb.CommitSnapshotRequest(name=args[0], key=args[1], labels=labels)
            resp = call(channel, "Commit", req.SerializeToString(), pb.Empty)
        elif m in ("mounts", "stat", "usage", "remove"):
            req = pb.KeyRequest(key=args[0]).SerializeToString()
            rtype = {"mounts": pb.MountsResponse, "stat": pb.InfoResponse,
                     "usage": pb.UsageResponse, "remove": pb.Empty}[m]
            resp = call(channel, m.capitalize(), req, rtype)
        elif m == "update":
            req = pb.UpdateSnapshotRequest(info=pb.Info(name=args[0], labels=labels))
            req.update_mask.paths.extend(a.mask or [])
            resp = call(channel, "Update", req.SerializeToString(), pb.InfoResponse)
        elif m == "list":
            req = pb.ListSnapshotsRequest(filters=args).SerializeToString()
            stub = channel.unary_stream(SERVICE + "List", request_serializer=lambda b: b,
                                        response_deserializer=pb.ListSnapshotsResponse.FromString)
            infos = []
            for r in stub(req, timeout=30):
                infos.extend(json_format.MessageToDict(i) for i in r.info)
            print(json.dumps({"info": infos}))
            return 0
        elif m == "cleanup":
            resp = call(channel, "Cleanup", pb.CleanupRequest().SerializeToString(), pb.Empty)
        elif m == "raw":
            resp = call(channel, args[0], bytes.fromhex(args[1]), pb.Empty)
        elif m == "bad-label-prepare":
            entry = field(1, bytes.fromhex(args[1])) + field(2, bytes.fromhex(args[2]))
            req = pb.PrepareSnapshotRequest(key=args[0]).SerializeToString() + field(4, entry)
            resp = call(channel, "Prepare", req, pb.MountsResponse)
        else:
            print("unknown method " + m, file=sys.stderr)
            return 2
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()))
        return 1
    print(json_format.MessageToJson(resp, indent=None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
