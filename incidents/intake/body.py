"""Reading an alert notification of any size with bounded memory.

Alertmanager and Grafana drop a notification Keel refuses (a 413 or a 400 is final
for them), so the largest outages would never become incidents. The body is read in
chunks: the first ``KEEL_ALERT_MAX_BODY_BYTES`` are kept, the rest is drained keeping
only its last ``TAIL_BYTES`` (where the senders write the group's labels and key,
after the alerts). A body over the cap is *salvaged*: every alert that arrived whole
in the kept part is processed, the group's fields come from the tail, and the alerts
in between are counted (each has one ``"fingerprint"`` key) and recorded as dropped.
"""

import json
import re
from dataclasses import dataclass

from django.conf import settings

from common.jsonguard import JSONInputError, parse_json, too_deep

CHUNK_BYTES = 64 * 1024
TAIL_BYTES = 1024 * 1024
_ALERT_KEY = b'"fingerprint":'
_ALERTS_START = re.compile(r'"alerts"\s*:\s*\[')
# Go's encoding/json (Alertmanager, Grafana) writes the group's labels right after the alerts.
_AFTER_ALERTS = re.compile(r'\]\s*,\s*"groupLabels"\s*:')
_SEPARATORS = " \t\r\n,"


@dataclass
class Body:
    head: bytes
    tail: bytes
    total_bytes: int
    alert_keys: int  # how many alerts the whole body holds (its "fingerprint" keys)

    @property
    def truncated(self) -> bool:
        return self.total_bytes > len(self.head)


@dataclass
class Parsed:
    payload: dict
    body: Body
    dropped_by_cap: int = 0  # alerts in the part of the body over the cap


def _stream(request):
    """The request's input: Django's (sized by Content-Length) or, for a chunked body
    from a server that ends the input at the body's end (gunicorn), the raw one."""
    if request.META.get("CONTENT_LENGTH") in (None, "") and request.META.get(
        "wsgi.input_terminated"
    ):
        return request.META["wsgi.input"]
    return request


def read(request, *, cap: int | None = None) -> Body:
    """Read the whole body: keep ``cap`` bytes and the last ``TAIL_BYTES``, count alerts."""
    cap = settings.KEEL_ALERT_MAX_BODY_BYTES if cap is None else cap
    stream = _stream(request)
    head = bytearray()
    tail = b""
    total = keys = 0
    carry = b""  # the end of the previous chunk: a key split across two chunks counts once
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        if len(head) < cap:
            head += chunk[: cap - len(head)]
        window = carry + chunk
        keys += window.count(_ALERT_KEY) - carry.count(_ALERT_KEY)
        carry = window[-(len(_ALERT_KEY) - 1) :]
        tail = (tail + chunk)[-TAIL_BYTES:]
    return Body(head=bytes(head), tail=tail, total_bytes=total, alert_keys=keys)


def parse(body: Body) -> Parsed:
    """The payload of ``body`` (``JSONInputError`` when there is none to be had).

    Whole bodies are parsed as any JSON Keel reads (``common.jsonguard``, NUL and lone
    surrogates cleaned: the sender cannot fix them); bodies over the cap are salvaged."""
    if not body.truncated:
        payload = parse_json(body.head, clean=True, max_bytes=len(body.head) or 1)
        if not isinstance(payload, dict):
            raise JSONInputError("The body must be a JSON object.")
        return Parsed(payload=payload, body=body)
    return _salvage(body)


def _piece(text: str) -> object:
    return parse_json(text, clean=True, max_bytes=len(text.encode("utf-8", "surrogatepass")))


def _salvage(body: Body) -> Parsed:
    head = body.head.decode("utf-8", errors="replace")
    start = _ALERTS_START.search(head)
    if start is None:
        raise JSONInputError(
            f"The body is over the limit of {len(body.head)} bytes and has no alerts array "
            "within it.",
            code="request_too_large",
        )
    limit = settings.KEEL_MAX_JSON_DEPTH
    if too_deep(head[: start.start()] + "}", limit=limit):
        raise JSONInputError(f"The JSON nests more than {limit} levels deep.")
    payload = _piece(head[: start.start()].rstrip(_SEPARATORS) + "}")
    if not isinstance(payload, dict):
        raise JSONInputError("The body must be a JSON object.")
    alerts = []
    decoder = json.JSONDecoder()
    position = start.end()
    while True:
        while position < len(head) and head[position] in _SEPARATORS:
            position += 1
        if position >= len(head) or head[position] != "{":
            break
        try:
            _, end = decoder.raw_decode(head, position)
        except (ValueError, RecursionError):
            break  # the alert the cap cut through, or one nested absurdly deep
        try:
            alerts.append(_piece(head[position:end]))
        except JSONInputError:
            alerts.append(None)  # recorded as malformed, like any unreadable alert
        position = end
    payload.update(_trailer(body.tail))
    payload["alerts"] = alerts
    return Parsed(payload=payload, body=body, dropped_by_cap=max(body.alert_keys - len(alerts), 0))


def _trailer(tail: bytes) -> dict:
    """The group's fields written after the alerts (labels, key, externalURL), if the
    tail holds them whole."""
    text = tail.decode("utf-8", errors="replace")
    # The last one: a label value cannot hold it unescaped, but be sure.
    found = next(reversed(list(_AFTER_ALERTS.finditer(text))), None)
    if found is None:
        return {}
    try:
        trailer = _piece("{" + text[found.start() + 1 :].lstrip(_SEPARATORS))
    except JSONInputError:
        return {}
    return trailer if isinstance(trailer, dict) else {}
