"""A minimal receiver for Keel's webhooks, verified with the ``standardwebhooks`` library.

    pip install standardwebhooks
    KEEL_WEBHOOK_SECRET=whsec_... python webhook_receiver.py [port]

It listens on 127.0.0.1 (port 8765 by default; 0 picks a free one and prints it),
and for every POST:

1. verifies the ``webhook-signature`` over ``webhook-id``, ``webhook-timestamp``
   and the raw body (the library also refuses timestamps more than 5 minutes
   off) — a bad signature is answered 401 and nothing else happens;
2. drops a repeat of a ``webhook-id`` it has seen (Keel retries with the same id);
3. dispatches on ``type`` and checks ``version`` (see docs/events/*.json): a
   version it was not written for is answered 2xx and logged, not guessed at;
4. answers an ``endpoint.verification`` with its ``challenge``, which confirms a
   status-page webhook subscription.

Each accepted event is printed as one JSON line on stdout. Keep the handler fast:
queue the work and answer 2xx; Keel retries 429/5xx and timeouts.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# The event versions this receiver understands (Keel bumps a version only for a
# breaking change; new fields may appear at any time and are ignored here).
UNDERSTOOD = {
    "incident.declared": 1,
    "incident.stage": 1,
    "incident.severity": 1,
    "incident.manual": 1,
    "incident.reminder": 1,
    "incident_update": 1,
    "maintenance_update": 1,
    "component_update": 1,
    "endpoint.verification": 1,
}
MAX_BODY = 1024 * 1024


def handle(event: dict) -> dict | str | None:
    """Your code goes here. Returns what to answer (the challenge, for a verification)."""
    kind, version = event.get("type"), event.get("version")
    if UNDERSTOOD.get(kind) != version:
        print(json.dumps({"skipped": kind, "version": version}), flush=True)
        return None
    if kind == "endpoint.verification":
        return {"challenge": event["challenge"]}
    if kind.startswith("incident."):
        incident = event["data"]["incident"]
        summary = {"incident": incident["id"], "stage": incident["stage"]}
    elif kind == "component_update":
        summary = {"component": event["component"]["id"], **event["component_update"]}
    else:
        summary = {"incident": event["incident"]["id"], "status": event["incident"]["status"]}
    print(json.dumps({"type": kind, "version": version, **summary}), flush=True)
    return None


def make_server(secret: str, port: int) -> ThreadingHTTPServer:
    webhook = Webhook(secret)
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413)
            body = self.rfile.read(length)
            try:
                event = webhook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as exc:
                print(json.dumps({"refused": str(exc)}), flush=True)
                return self._answer(401)
            message_id = self.headers["webhook-id"]
            if message_id in seen:
                return self._answer(200)
            seen.add(message_id)
            answer = handle(event)
            return self._answer(200, json.dumps(answer or {}).encode())

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    secret = os.environ["KEEL_WEBHOOK_SECRET"]
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    server = make_server(secret, port)
    print(json.dumps({"listening": f"http://127.0.0.1:{server.server_address[1]}/"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
