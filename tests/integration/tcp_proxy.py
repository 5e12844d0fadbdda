"""A tiny TCP proxy, run as its own process so a test can freeze it (SIGSTOP) or
stop it, and so put a *stalled* dependency in front of Keel without touching the
shared PostgreSQL or Redis.

    python -m tests.integration.tcp_proxy LISTEN_PORT TARGET_HOST TARGET_PORT

A SIGSTOP'd proxy is the nasty case: the kernel still accepts connections and
acknowledges bytes into the socket buffers, but nothing ever answers.
"""

import contextlib
import selectors
import socket
import sys


def serve(listen_port: int, target: tuple[str, int]) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(128)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data is None:
                client, _ = listener.accept()
                try:
                    upstream = socket.create_connection(target, timeout=5)
                except OSError:
                    client.close()
                    continue
                for sock in (client, upstream):
                    sock.setblocking(False)
                selector.register(client, selectors.EVENT_READ, upstream)
                selector.register(upstream, selectors.EVENT_READ, client)
                continue
            source, peer = key.fileobj, key.data
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if chunk:
                try:
                    peer.setblocking(True)
                    peer.sendall(chunk)
                    peer.setblocking(False)
                    continue
                except OSError:
                    pass
            for sock in (source, peer):
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(sock)
                sock.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), (sys.argv[2], int(sys.argv[3])))
