"""Outbound webhooks signed in the Standard Webhooks style.

Headers: ``webhook-id`` (the delivery id, stable across retries so receivers
de-duplicate), ``webhook-timestamp`` and ``webhook-signature`` =
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed by the secret
after its ``whsec_`` prefix (base64-decoded).
"""

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

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


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead a validated URL to an internal address (SSRF): the
    3xx surfaces as an HTTPError instead of being followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


def open_url(request: urllib.request.Request):
    """Every outbound HTTP call of Keel: the configured timeout, no redirects."""
    return _opener.open(request, timeout=settings.KEEL_OUTBOUND_TIMEOUT_SECONDS)


def validate_url(
    url: str, *, allow_private: bool | None = None, field: str = "target", resolve: bool = True
) -> None:
    """http(s) only; refuse hosts resolving to private, loopback or link-local
    addresses unless the admin setting allows them (SSRF). ``field`` names the
    input in the error. ``resolve=False`` skips the DNS lookup (a network call) and
    checks only literal addresses: for request paths; every send resolves again."""
    allow_private = settings.KEEL_WEBHOOKS_ALLOW_PRIVATE if allow_private is None else allow_private
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidInput(f"Not a valid URL: {exc}.", field=field) from exc
    if parts.scheme not in {"http", "https"} or not hostname:
        raise InvalidInput("Webhook URLs must be http(s)://host/...", field=field)
    if allow_private:
        return
    if not resolve:
        # A name rather than a literal address raises ValueError: the send resolves it.
        with contextlib.suppress(ValueError):
            _refuse_non_public(ipaddress.ip_address(hostname), hostname, field)
        return
    try:
        infos = socket.getaddrinfo(hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"Cannot resolve {hostname}: {exc}", field=field) from exc
    for info in infos:
        _refuse_non_public(ipaddress.ip_address(info[4][0]), hostname, field)


def _refuse_non_public(address, hostname: str, field: str) -> None:
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    ):
        raise InvalidInput(f"{hostname} resolves to {address}, a non-public address.", field=field)


def send(*, url: str, secret: str, message_id: str, payload: dict) -> SendResult:
    try:
        validate_url(url)
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
        with open_url(request) as response:
            response.read(1024)
            return SendResult.sent(message_id)
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
