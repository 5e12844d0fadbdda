"""A local webhook receiver that verifies Standard Webhooks signatures and
de-duplicates by ``webhook-id``, as a careful receiver would, and checks every
body against its published event schema (docs/events/): leaving the ``with``
block fails the test if any body broke its contract."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications.channels.webhook import verify
from tests.fakes.event_contracts import contract_errors


class WebhookReceiver:
    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[dict] = []  # every POST, duplicates included
        self.by_id: dict[str, dict] = {}  # what a de-duplicating receiver keeps
        self.bad_signatures = 0
        self.contract_violations: list[str] = []
        self.check_contracts = True  # off only for hand-written stub payloads
        self.script: list[int | float] = []  # statuses to answer next; a float = hang seconds
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    step = receiver.script.pop(0) if receiver.script else 200
                if isinstance(step, float):
                    time.sleep(step)
                    step = 200
                ok = verify(secret=receiver.secret, headers=headers, body=body)
                with receiver.lock:
                    if not ok:
                        receiver.bad_signatures += 1
                    elif receiver.check_contracts:
                        receiver.contract_violations += contract_errors(json.loads(body))
                    if ok and step < 300:
                        event = {"id": headers["webhook-id"], "body": json.loads(body)}
                        receiver.received.append(event)
                        receiver.by_id.setdefault(event["id"], event)
                status = step if ok else 401
                payload = b"{}"
                try:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "3")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/keel"

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        if exc_type is None and self.contract_violations:
            raise AssertionError(
                "Webhook bodies that break their published schema:\n"
                + "\n".join(self.contract_violations[:20])
            )
