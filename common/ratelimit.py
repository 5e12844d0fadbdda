"""One rate limiter for the whole project: fixed windows counted in the cache.

    decision = ratelimit.hit("slack", client_address(request), limit=120, window=60)
    if not decision.allowed:
        ... answer 429 with ``Retry-After: decision.retry_after``

``hit`` counts an event and says whether it is still within the limit;
``peek`` says the same without counting (to refuse a client already over its
limit before doing any work); ``reset`` forgets a key. The counter lives in the
default cache (Redis in production, so every web process shares it).

If the cache is unreachable the limiter lets the request through and logs it:
an outage of the limiter must not lock every user out; it only removes a guard
for its duration (and readiness reports the cache). ``fail_closed=True`` refuses
instead (``Decision.unavailable``), for guards whose absence is the abuse itself
(the public subscribe form, which makes Keel send mail to any address).
"""

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window resets (0 when allowed)
    unavailable: bool = False  # refused only because the counter could not be read


def _key(scope: str, ident: str, window: int, now: float) -> tuple[str, int]:
    start = int(now // window) * window
    # Hash the identity: it may be a username or an address, which are neither
    # bounded in length nor safe as cache-key characters.
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"ratelimit:{scope}:{window}:{digest}:{start}", start


def _decision(count: int, limit: int, window: int, start: int, now: float) -> Decision:
    if count <= limit:
        return Decision(True, count, limit, 0)
    return Decision(False, count, limit, max(1, math.ceil(start + window - now)))


UNAVAILABLE_RETRY_AFTER = 60


def hit(scope: str, ident: str, *, limit: int, window: int, fail_closed: bool = False) -> Decision:
    """Count one event for ``(scope, ident)`` in the current window of ``window`` s."""
    now = time.time()
    key, start = _key(scope, ident, window, now)
    try:
        # add() then incr(): atomic on Redis, so concurrent processes never lose a count.
        count = 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window + 1)
        count = 1
    except Exception:
        if fail_closed:
            logger.warning("rate limiter unavailable; refusing scope=%s", scope, exc_info=True)
            return Decision(False, 0, limit, UNAVAILABLE_RETRY_AFTER, unavailable=True)
        logger.warning("rate limiter unavailable; allowing scope=%s", scope, exc_info=True)
        return Decision(True, 0, limit, 0)
    return _decision(count, limit, window, start, now)


def peek(scope: str, ident: str, *, limit: int, window: int) -> Decision:
    """Whether ``(scope, ident)`` is over its limit, without counting."""
    now = time.time()
    key, start = _key(scope, ident, window, now)
    try:
        count = cache.get(key, 0)
    except Exception:
        logger.warning("rate limiter unavailable; allowing scope=%s", scope, exc_info=True)
        return Decision(True, 0, limit, 0)
    # Over the limit means the next event would exceed it.
    if count >= limit:
        return Decision(False, count, limit, max(1, math.ceil(start + window - now)))
    return Decision(True, count, limit, 0)


def reset(scope: str, ident: str, *, window: int) -> None:
    key, _ = _key(scope, ident, window, time.time())
    try:
        cache.delete(key)
    except Exception:
        logger.warning("rate limiter unavailable; could not reset scope=%s", scope, exc_info=True)


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or, behind ``KEEL_TRUSTED_PROXY_COUNT``
    reverse proxies, the address the outermost trusted proxy saw (the rightmost
    entries of ``X-Forwarded-For`` are the proxies' own; anything left of them is
    whatever the client chose to send, so it is never trusted). Always a valid IP
    address or ``""`` (it is stored in inet columns by django-axes)."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    proxies = getattr(settings, "KEEL_TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    return _valid_ip(forwarded[-proxies]) or remote


def _valid_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def limit_view(scope: str, *, limit, window, key=client_address):
    """Decorate a plain Django view: past ``limit`` requests per ``window`` seconds
    for one ``key(request)`` (the client address by default) it answers 429 with
    ``Retry-After`` and the one error body, without running the view. ``limit`` and
    ``window`` may be callables, read per request (so settings can change them)."""
    from functools import wraps

    from django.http import JsonResponse

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            max_hits = limit() if callable(limit) else limit
            seconds = window() if callable(window) else window
            decision = hit(scope, key(request), limit=max_hits, window=seconds)
            if not decision.allowed:
                logger.warning(
                    "rate limited scope=%s address=%s count=%s",
                    scope,
                    client_address(request),
                    decision.count,
                )
                response = JsonResponse(
                    {
                        "detail": f"Too many requests; retry in {decision.retry_after} s.",
                        "code": "throttled",
                        "errors": {},
                    },
                    status=429,
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
