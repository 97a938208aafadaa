#!/usr/bin/python3
# cri-pull.py SOCKET IMAGE: PullImage through containerd's CRI plugin (runtime.v1), as the
# kubelet asks for an image; prints the image ref, or "CODE: message" and exits 1.
import os
import subprocess
import sys
import tempfile

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sock, image = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="cri-pull.") as out:
        subprocess.run(["protoc", "--proto_path=" + HERE, "--python_out=" + out, "cri.proto"],
                       check=True)
        sys.path.insert(0, out)
        import cri_pb2
        sys.path.remove(out)
    channel = grpc.insecure_channel("unix:" + sock)
    pull = channel.unary_unary("/runtime.v1.ImageService/PullImage",
                               request_serializer=cri_pb2.PullImageRequest.SerializeToString,
                               response_deserializer=cri_pb2.PullImageResponse.FromString)
    try:
        resp = pull(cri_pb2.PullImageRequest(image=cri_pb2.ImageSpec(image=image)), timeout=120)
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()))
        return 1
    print(resp.image_ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
