"""A local fake of the Slack Web API for slack-sdk's ``base_url``.

It keeps channels and messages (with their metadata) in memory, records every
call, and plays scripted faults per method: an HTTP status (500, 429 with
Retry-After), a Slack error (``invalid_auth``, ``channel_not_found``), a hang
longer than the client's timeout, or "post, then hang" (the ambiguous case:
Slack stored the message but the client never heard back).
"""

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    hang_seconds: float = 0.0
    apply_then_hang: bool = False


@dataclass
class Call:
    method: str
    args: dict
    at: float


@dataclass
class FakeSlack:
    channels: dict[str, str] = field(default_factory=lambda: {"C0INCIDENTS": "incidents"})
    messages: dict[str, list[dict]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: float = field(default_factory=time.time)

    # ---- what tests use -------------------------------------------------
    def fail_next(self, method: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(method, []).extend(faults)

    def fail_always(self, method: str, fault: Fault, times: int = 1000) -> None:
        self.fail_next(method, *([fault] * times))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def posted(self, channel: str = "C0INCIDENTS") -> list[dict]:
        with self.lock:
            return list(self.messages.get(channel, []))

    def posted_for_delivery(self, delivery_id: str) -> list[dict]:
        return [
            m
            for channel in list(self.messages)
            for m in self.posted(channel)
            if (m.get("metadata") or {}).get("event_payload", {}).get("delivery_id") == delivery_id
        ]

    # ---- the API --------------------------------------------------------
    def _next_ts(self) -> str:
        with self.lock:
            self._ts = max(self._ts + 0.000100, time.time())
            return f"{self._ts:.6f}"

    def _channel_id(self, value: str) -> str | None:
        if value in self.channels:
            return value
        name = value.lstrip("#")
        for channel_id, channel_name in self.channels.items():
            if channel_name == name:
                return channel_id
        return None

    def handle(self, method: str, args: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": "UKEEL", "team": "keel"}
        if method == "conversations.list":
            return {
                "ok": True,
                "channels": [{"id": cid, "name": name} for cid, name in self.channels.items()],
                "response_metadata": {"next_cursor": ""},
            }
        if method == "conversations.create":
            channel_id = f"C{len(self.channels):08d}"
            self.channels[channel_id] = args["name"]
            return {"ok": True, "channel": {"id": channel_id, "name": args["name"]}}
        if method == "conversations.invite":
            return {"ok": True, "channel": {"id": args.get("channel")}}
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            message = {
                "ts": self._next_ts(),
                "text": args.get("text", ""),
                "blocks": args.get("blocks"),
                "thread_ts": args.get("thread_ts"),
                "metadata": args.get("metadata"),
            }
            with self.lock:
                self.messages.setdefault(channel, []).append(message)
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        if method == "chat.update":
            with self.lock:
                for message in self.messages.get(channel, []):
                    if message["ts"] == args.get("ts"):
                        message.update(text=args.get("text", ""), blocks=args.get("blocks"))
                        return {"ok": True, "channel": channel, "ts": message["ts"]}
            return {"ok": False, "error": "message_not_found"}
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            with self.lock:
                found = [
                    m
                    for m in self.messages.get(channel, [])
                    if not m.get("thread_ts") and float(m["ts"]) >= oldest
                ]
            return {"ok": True, "messages": list(reversed(found)), "has_more": False}
        if method == "conversations.replies":
            root = args.get("ts")
            with self.lock:
                found = [
                    m
                    for m in self.messages.get(channel, [])
                    if m["ts"] == root or m.get("thread_ts") == root
                ]
            return {"ok": True, "messages": found, "has_more": False}
        return {"ok": False, "error": "unknown_method"}


def _make_handler(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _args(self) -> dict:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if raw:
                if "json" in (self.headers.get("Content-Type") or ""):
                    query.update(json.loads(raw))
                else:
                    query.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            for key in ("blocks", "metadata"):
                if isinstance(query.get(key), str):
                    with contextlib.suppress(ValueError):
                        query[key] = json.loads(query[key])
            return query

        def _respond(self, status: int, body: dict, headers: dict | None = None) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): exactly what a hang test wants

        def _handle(self):
            method = urlsplit(self.path).path.rsplit("/", 1)[-1]
            args = self._args()
            with fake.lock:
                fake.calls.append(Call(method, args, time.time()))
                queue = fake.faults.get(method) or []
                fault = queue.pop(0) if queue else None
            if fault and fault.apply_then_hang:
                fake.handle(method, args)
                time.sleep(fault.hang_seconds)
                return self._respond(200, {"ok": False, "error": "too_late"})
            if fault and fault.hang_seconds:
                time.sleep(fault.hang_seconds)
            if fault and fault.status != 200:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
                return self._respond(fault.status, {"ok": False, "error": error}, headers)
            if fault and fault.error:
                return self._respond(200, {"ok": False, "error": fault.error})
            return self._respond(200, fake.handle(method, args))

        do_GET = _handle
        do_POST = _handle

    return Handler


class FakeSlackServer:
    def __init__(self):
        self.fake = FakeSlack()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self.fake))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> "FakeSlackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
