"""A local SMTP sink for the subscriber fan-out benchmark (aiosmtpd, one process).

``python benchmarks/smtp_sink.py SMTP_PORT STATS_PORT`` listens on 127.0.0.1:

* ``SMTP_PORT``: a real SMTP server (aiosmtpd). It accepts every message and
  records, per ``Message-ID``, the wall-clock time (``time.time()``, comparable
  across processes) at which it answered ``250`` to the message's DATA, and
  which recipients it carried.
* ``STATS_PORT``: ``GET /stats`` → JSON (messages, unique Message-IDs, unique
  recipients, duplicates, first and last acknowledgement times);
  ``GET /sample`` → the subject and plain-text body of the first message (the
  benchmark's reference sends the same bytes); ``POST /reset`` forgets everything.

Duplicates are counted two ways, so an engine that re-sends under a new
Message-ID is still caught: Message-IDs seen more than once, and recipients
that got more than one message since the last reset.
"""

import asyncio
import email
import email.policy
import json
import sys
import time
from collections import Counter

from aiosmtpd.smtp import SMTP


class State:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.ids: Counter = Counter()
        self.acked: dict[str, float] = {}  # Message-ID → when first acknowledged
        self.recipients: Counter = Counter()
        self.messages = 0
        self.without_id = 0
        self.first = None
        self.last = None
        self.sample: dict | None = None

    def stats(self) -> dict:
        return {
            "messages": self.messages,
            "unique": len(self.ids),
            "unique_recipients": len(self.recipients),
            "duplicate_ids": sum(n - 1 for n in self.ids.values()),
            "duplicate_recipients": sum(n - 1 for n in self.recipients.values()),
            "without_message_id": self.without_id,
            "first_ack": self.first,
            "last_ack": self.last,
        }


class Handler:
    def __init__(self, state: State):
        self.state = state

    async def handle_DATA(self, server, session, envelope):
        state = self.state
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message_id = (message.get("Message-ID") or "").strip()
        if state.sample is None:
            body = message.get_body(preferencelist=("plain",))
            state.sample = {
                "subject": str(message.get("Subject", "")),
                "body": body.get_content() if body is not None else "",
                "bytes": len(envelope.content),
            }
        now = time.time()
        state.messages += 1
        if message_id:
            state.ids[message_id] += 1
            state.acked.setdefault(message_id, now)
        else:
            state.without_id += 1
        for recipient in envelope.rcpt_tos:
            state.recipients[recipient.lower()] += 1
        state.first = state.first or now
        state.last = now
        return "250 Message accepted for delivery"


def _response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def stats_handler(state: State, reader, writer) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        method, path, _ = head.decode("latin-1").split("\r\n", 1)[0].split(" ", 2)
        status, payload = 404, b"{}"
        if method == "GET" and path == "/stats":
            status, payload = 200, json.dumps(state.stats()).encode()
        elif method == "GET" and path == "/sample":
            status, payload = 200, json.dumps(state.sample).encode()
        elif method == "GET" and path == "/acks":
            status, payload = 200, json.dumps(list(state.acked.values())).encode()
        elif method == "POST" and path == "/reset":
            state.reset()
            status = 200
        writer.write(_response(status, payload))
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(smtp_port: int, stats_port: int) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    handler = Handler(state)
    smtp = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink.local", timeout=30),
        "127.0.0.1",
        smtp_port,
        backlog=1024,
    )
    stats = await asyncio.start_server(
        lambda r, w: stats_handler(state, r, w), "127.0.0.1", stats_port
    )
    print(f"smtp sink listening on 127.0.0.1:{smtp_port} (stats on {stats_port})", flush=True)
    async with smtp, stats:
        await asyncio.gather(smtp.serve_forever(), stats.serve_forever())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
