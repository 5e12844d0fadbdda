"""Outbound webhooks signed in the Standard Webhooks style.

Headers: ``webhook-id`` (the delivery id, stable across retries so receivers
de-duplicate), ``webhook-timestamp`` and ``webhook-signature`` =
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed by the secret
after its ``whsec_`` prefix (base64-decoded).
"""

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

from common import outbound
from common.exceptions import InvalidInput
from notifications.channels.base import Outcome, SendResult, parse_retry_after


def _secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(*, secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does: check the timestamp window and any v1 signature."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(
        secret=secret, message_id=headers.get("webhook-id", ""), timestamp=timestamp, body=body
    )
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )


def open_url(request: urllib.request.Request, **kwargs) -> outbound.Response:
    """Every outbound HTTP call of Keel (webhooks, Slack ``response_url``): see
    ``common.outbound.open_url`` (pinned address, no redirects, total deadline)."""
    return outbound.open_url(request, **kwargs)


def validate_url(
    url: str, *, allow_private: bool | None = None, field: str = "target", resolve: bool = True
) -> None:
    """http(s) only; refuse hosts that are or resolve to non-public addresses unless
    the admin setting allows them (SSRF). ``field`` names the input in the error.
    ``resolve=False`` skips the DNS lookup (a network call) and checks only literal
    addresses: for request paths. The check that protects a send is the one
    ``open_url`` makes on the address it then connects to; this one is for errors
    a person can fix while typing."""
    allow_private = settings.KEEL_WEBHOOKS_ALLOW_PRIVATE if allow_private is None else allow_private
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidInput(f"Not a valid URL: {exc}.", field=field) from exc
    if parts.scheme not in {"http", "https"} or not hostname:
        raise InvalidInput("Webhook URLs must be http(s)://host/...", field=field)
    try:
        if not resolve:
            outbound.check_literal(hostname, allow_private=allow_private)
            return
        outbound.resolve(
            hostname,
            port or (443 if parts.scheme == "https" else 80),
            allow_private=allow_private,
            timeout=settings.KEEL_OUTBOUND_TIMEOUT_SECONDS,
        )
    except outbound.AddressRefused as exc:
        raise InvalidInput(str(exc), field=field) from exc
    except OSError as exc:
        raise InvalidInput(f"Cannot resolve {hostname}: {exc}", field=field) from exc


def echoes(body: bytes, challenge: str) -> bool:
    """Endpoint verification: the 2xx body is the challenge itself, or a JSON object
    whose ``challenge`` is it (Slack's ``url_verification`` and Zoom's shape)."""
    text = body.decode("utf-8", "replace").strip()
    if hmac.compare_digest(text.encode(), challenge.encode()):
        return True
    try:
        answer = json.loads(text)
    except ValueError:
        return False
    return isinstance(answer, dict) and hmac.compare_digest(
        str(answer.get("challenge", "")).encode(), challenge.encode()
    )


def send(
    *, url: str, secret: str, message_id: str, payload: dict, challenge: str = ""
) -> SendResult:
    """POST the signed payload. With ``challenge`` (endpoint verification), a 2xx
    counts as sent only when the body echoes it; otherwise it is a permanent failure."""
    try:
        # Syntax only: the address check that counts is made by open_url on the
        # address it connects to (checking here and resolving there is DNS rebinding).
        validate_url(url, resolve=False)
    except InvalidInput as exc:
        return SendResult(Outcome.PERMANENT, error=exc.message)
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Keel-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                secret=secret, message_id=message_id, timestamp=timestamp, body=body
            ),
        },
    )
    try:
        with open_url(request, max_bytes=4096) as response:
            answer = response.read()
    except outbound.AddressRefused as exc:
        return SendResult(Outcome.PERMANENT, error=str(exc)[:500])
    except urllib.error.HTTPError as exc:
        status = exc.code
        error = f"HTTP {status} from {urlsplit(url).hostname}"
        if 300 <= status < 400:
            return SendResult(Outcome.PERMANENT, error=f"{error}: redirects are not followed")
        if status == 410:
            return SendResult(Outcome.GONE, error=error)
        if status == 429 or status >= 500:
            return SendResult.retry(error, parse_retry_after(exc.headers.get("Retry-After")))
        if status in (408, 425):
            return SendResult.retry(error)
        return SendResult(Outcome.PERMANENT, error=error)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return SendResult.ambiguous(f"{type(exc).__name__}: {exc}"[:500])
    if challenge and not echoes(answer, challenge):
        return SendResult(
            Outcome.PERMANENT,
            error="The endpoint answered 2xx without echoing the verification challenge.",
        )
    return SendResult.sent(message_id)
