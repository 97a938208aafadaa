#!/usr/bin/python3
# A CRI client of the tests' own (runtime.v1 over containerd's socket), asking what the kubelet
# asks; messages from cri.proto, compiled here with protoc.
#
#   cri.py SOCKET pull IMAGE
#       prints the image ref
#   cri.py SOCKET pod IMAGE HANDLER LOGDIR COMMAND...
#       runs a pod sandbox (host network) with runtime handler HANDLER and one container of
#       IMAGE running COMMAND, waits for it to exit, prints its log (the CRI log format) and
#       "exit N", then stops and removes the container and the sandbox
#
#   cri.py SOCKET serve FIFO
#       a client that stays, as the kubelet does (brisk-bench times pulls, not python's start):
#       connects, then for each line "pull IMAGE" read from FIFO prints "ok IMAGE_REF" or
#       "CODE: message", until FIFO's writer closes it
#
# On a gRPC error prints "CODE: message" and exits 1.
import os
import subprocess
import sys
import tempfile
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
EXITED = 2
NODE = 2


def import_from(d):
    sys.path.insert(0, d)
    try:
        import cri_pb2
    finally:
        sys.path.remove(d)
    return cri_pb2


def compile_into(d):
    subprocess.run(["protoc", "--proto_path=" + HERE, "--python_out=" + d, "cri.proto"],
                   check=True)


def load_messages():
    # CRI_PB_DIR: a directory that keeps the compiled messages between calls (a benchmark
    # times many pulls, and protoc is not what it measures)
    keep = os.environ.get("CRI_PB_DIR")
    if keep:
        if not os.path.exists(os.path.join(keep, "cri_pb2.py")):
            os.makedirs(keep, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="cri.", dir=keep) as out:
                compile_into(out)
                os.rename(os.path.join(out, "cri_pb2.py"), os.path.join(keep, "cri_pb2.py"))
        return import_from(keep)
    with tempfile.TemporaryDirectory(prefix="cri.") as out:
        compile_into(out)
        return import_from(out)


class Client:
    def __init__(self, sock, pb):
        self.channel = grpc.insecure_channel("unix:" + sock)
        self.pb = pb

    def call(self, service, method, request, response_type, timeout=120):
        stub = self.channel.unary_unary("/runtime.v1.%s/%s" % (service, method),
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=response_type.FromString)
        return stub(request, timeout=timeout)


def pull(c, image):
    pb = c.pb
    resp = c.call("ImageService", "PullImage",
                  pb.PullImageRequest(image=pb.ImageSpec(image=image)), pb.PullImageResponse)
    print(resp.image_ref)


def serve(c, fifo):
    grpc.channel_ready_future(c.channel).result(timeout=30)
    with open(fifo) as f:
        for line in f:
            cmd, _, arg = line.strip().partition(" ")
            try:
                if cmd != "pull":
                    print("INVALID_ARGUMENT: unknown command " + cmd, flush=True)
                    continue
                resp = c.call("ImageService", "PullImage",
                              c.pb.PullImageRequest(image=c.pb.ImageSpec(image=arg)),
                              c.pb.PullImageResponse, timeout=600)
                print("ok " + resp.image_ref, flush=True)
            except grpc.RpcError as e:
                print("%s: %s" % (e.code().name, e.details()), flush=True)


def pod(c, image, handler, logdir, command):
    pb = c.pb
    sandbox = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="brisk-pod", uid="brisk-pod-uid",
                                       namespace="brisk-test"),
        # no hostname: a pod on the node's network has the node's (as the kubelet sends it)
        log_directory=logdir,
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=NODE))))
    sid = c.call("RuntimeService", "RunPodSandbox",
                 pb.RunPodSandboxRequest(config=sandbox, runtime_handler=handler),
                 pb.RunPodSandboxResponse).pod_sandbox_id
    try:
        config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="main"),
                                    image=pb.ImageSpec(image=image), command=command,
                                    log_path="main.log")
        cid = c.call("RuntimeService", "CreateContainer",
                     pb.CreateContainerRequest(pod_sandbox_id=sid, config=config,
                                               sandbox_config=sandbox),
                     pb.CreateContainerResponse).container_id
        c.call("RuntimeService", "StartContainer", pb.ContainerIdRequest(container_id=cid),
               pb.Empty)
        for _ in range(300):
            st = c.call("RuntimeService", "ContainerStatus",
                        pb.ContainerIdRequest(container_id=cid),
                        pb.ContainerStatusResponse).status
            if st.state == EXITED:
                break
            time.sleep(0.1)
        with open(os.path.join(logdir, "main.log")) as f:
            sys.stdout.write(f.read())
        print("exit %d" % st.exit_code)
        c.call("RuntimeService", "RemoveContainer", pb.ContainerIdRequest(container_id=cid),
               pb.Empty)
    finally:
        c.call("RuntimeService", "StopPodSandbox", pb.PodSandboxIdRequest(pod_sandbox_id=sid),
               pb.Empty)
        c.call("RuntimeService", "RemovePodSandbox",
               pb.PodSandboxIdRequest(pod_sandbox_id=sid), pb.Empty)


def main():
    sock, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    c = Client(sock, load_messages())
    try:
        if cmd == "pull":
            pull(c, args[0])
        elif cmd == "serve":
            serve(c, args[0])
        elif cmd == "pod":
            pod(c, args[0], args[1], args[2], args[3:])
        else:
            print("unknown command " + cmd, file=sys.stderr)
            return 2
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
