#!/usr/bin/python3
# slow-proxy.py TARGET_PORT DELAY: a TCP proxy on 127.0.0.1 to 127.0.0.1:TARGET_PORT that holds
# each new connection DELAY seconds before it forwards anything: a registry on a slow link.
# Prints its port, then serves until killed.
import socket
import sys
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, target, delay):
    time.sleep(delay)
    try:
        upstream = socket.create_connection(("127.0.0.1", target))
    except OSError:
        client.close()
        return
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)


def main():
    target, delay = int(sys.argv[1]), float(sys.argv[2])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print(server.getsockname()[1], flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, target, delay), daemon=True).start()


if __name__ == "__main__":
    main()
