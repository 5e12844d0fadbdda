"""A fast local webhook receiver for the fan-out benchmark (asyncio, one process).

``python benchmarks/receiver.py PORT SECRETS_JSON`` listens on 127.0.0.1:PORT.

* ``POST /hooks/<n>`` verifies the Standard Webhooks signature with the secret
  ``SECRETS_JSON[n]`` (``notifications.channels.webhook.verify``), answers 200
  (401 on a bad signature) and records, per ``webhook-id``, the wall-clock time
  (``time.time()``, comparable across processes) at which it acknowledged it.
* ``GET /stats`` → JSON: unique ids, total POSTs, duplicates, bad signatures,
  first and last acknowledgement times.
* ``GET /sample`` → the first verified body (JSON), for a reference sending the same.
* ``POST /reset`` forgets everything (between runs).

It is deliberately minimal HTTP/1.1 (Content-Length bodies, keep-alive) so that
on a 2-core machine the receiver costs the workers as little CPU as possible.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifications.channels.webhook import verify

MAX_BODY = 1024 * 1024


class State:
    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets
        self.reset()

    def reset(self) -> None:
        self.acked: dict[str, float] = {}
        self.total = 0
        self.bad = 0
        self.first = None
        self.last = None
        self.sample = None

    def stats(self) -> dict:
        return {
            "unique": len(self.acked),
            "total": self.total,
            "duplicates": self.total - len(self.acked),
            "bad_signatures": self.bad,
            "first_ack": self.first,
            "last_ack": self.last,
        }


def _response(status: int, body: bytes, *, close: bool) -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 400: "Bad Request"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + body


async def handle(state: State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                writer.write(_response(400, b"{}", close=True))
                await writer.drain()
                return
            body = await reader.readexactly(length) if length else b""
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            status, payload, ack_id = 404, b"{}", None
            if method == "POST" and path.startswith("/hooks/"):
                secret = state.secrets.get(path.removeprefix("/hooks/"))
                if secret and verify(secret=secret, headers=headers, body=body):
                    status, ack_id = 200, headers["webhook-id"]
                    if state.sample is None:
                        state.sample = body
                else:
                    status = 401
                    state.bad += 1
            elif method == "GET" and path == "/stats":
                status, payload = 200, json.dumps(state.stats()).encode()
            elif method == "GET" and path == "/sample":
                status, payload = 200, state.sample or b"null"
            elif method == "GET" and path == "/acks":  # when each id was first acknowledged
                status, payload = 200, json.dumps(list(state.acked.values())).encode()
            elif method == "POST" and path == "/reset":
                state.reset()
                status = 200
            writer.write(_response(status, payload, close=close))
            await writer.drain()
            if ack_id is not None:
                # Acknowledged: the response is in the socket. Only the first ack of an
                # id counts; later ones are duplicates.
                now = time.time()
                state.total += 1
                if ack_id not in state.acked:
                    state.acked[ack_id] = now
                    state.first = state.first or now
                    state.last = now
            if close:
                return
    finally:
        writer.close()


async def main(port: int, secrets_path: str) -> None:
    state = State(json.loads(Path(secrets_path).read_text()))
    server = await asyncio.start_server(
        lambda r, w: handle(state, r, w), "127.0.0.1", port, backlog=1024
    )
    print(f"receiver listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
