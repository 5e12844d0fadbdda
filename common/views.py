import hmac
import ipaddress
import logging
import sys
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common import health, ratelimit
from common import metrics as keel_metrics
from common.api import UNAVAILABLE_DETAIL
from common.db import UNAVAILABLE_ERRORS, is_unavailable

logger = logging.getLogger(__name__)

OPS_FAILURE_SCOPE = "ops-token-failure"


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in spec.split(",")
            if part.strip()
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"KEEL_OPS_ALLOW_CIDRS: {exc}") from exc


def _address_allowed(address: str) -> bool:
    networks = _networks(",".join(settings.KEEL_OPS_ALLOW_CIDRS))
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def ops_access(request: HttpRequest) -> str:
    """Who may read the operational details (/metrics, /readyz's checks):

    ``"granted"`` for ``Authorization: Bearer <KEEL_METRICS_TOKEN>`` or a client
    address in ``KEEL_OPS_ALLOW_CIDRS``; ``"refused"`` for a wrong token (counted
    per address, like API token failures); ``"anonymous"`` otherwise. Metrics
    count private incidents and readiness names internal hosts, so neither is
    public by default (both settings empty)."""
    address = ratelimit.client_address(request)
    header = request.headers.get("Authorization", "")
    if header:
        return _token_access(request, address, header)
    return "granted" if _address_allowed(address) else "anonymous"


def _token_access(request: HttpRequest, address: str, header: str) -> str:
    """``"granted"`` for the metrics token; ``"refused"`` for any other, counted per
    address, or for any token once the address has failed too often."""
    scheme, _, credentials = header.partition(" ")
    expected = settings.KEEL_METRICS_TOKEN
    limit = settings.KEEL_TOKEN_FAILURE_LIMIT
    window = settings.KEEL_TOKEN_FAILURE_WINDOW_SECONDS
    if not ratelimit.peek(OPS_FAILURE_SCOPE, address, limit=limit, window=window).allowed:
        return "refused"
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credentials.strip().encode(), expected.encode())
    ):
        return "granted"
    ratelimit.hit(OPS_FAILURE_SCOPE, address, limit=limit, window=window)
    logger.warning("ops endpoint refused a token address=%s path=%s", address, request.path)
    return "refused"


def _ops_refusal(access: str) -> JsonResponse:
    if access == "refused":
        return JsonResponse(
            {"detail": "This token may not read operational data.", "code": "permission_denied"},
            status=403,
        )
    response = JsonResponse(
        {
            "detail": "Operational data needs the metrics token (Authorization: Bearer).",
            "code": "not_authenticated",
        },
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="ops"'
    return response


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Dependencies are /readyz's business."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness. Without ops access only the verdict: ``{"status": "ok|unavailable"}``
    and 200/503, never a host, a port or an error string."""
    results = health.readiness()
    ready = all(result.ok for result in results)
    if ops_access(request) != "granted":
        return JsonResponse(
            {"status": "ok" if ready else "unavailable"}, status=200 if ready else 503
        )
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": {r.name: {"ok": r.ok, "detail": r.detail, "millis": r.millis} for r in results},
    }
    return JsonResponse(body, status=200 if ready else 503)


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: domain metrics, not just process ones (seed 000).

    Readiness, then the figures every app's collector reads from the database (a
    fixed number of queries), then the process-counted ones summed over every
    gunicorn worker (``common.metrics``). With the database down the answer is a
    503 naming it (Prometheus records the scrape as failed), never a 500. Ops
    access only (``ops_access``): the figures count private incidents."""
    access = ops_access(request)
    if access != "granted":
        return _ops_refusal(access)
    try:
        body = keel_metrics.exposition()
    except UNAVAILABLE_ERRORS as exc:
        logger.warning("metrics: database unavailable: %s", exc)
        response = HttpResponse(
            f"# database unavailable: {type(exc).__name__}\n",
            status=503,
            content_type=keel_metrics.CONTENT_TYPE,
        )
        response["Retry-After"] = str(settings.KEEL_UNAVAILABLE_RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(body, content_type=keel_metrics.CONTENT_TYPE)


def _error_page(request, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        code = title.lower().replace(" ", "_")
        return JsonResponse({"detail": message, "code": code, "errors": {}}, status=status)
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status=status
    )


def bad_request(request, exception=None):
    return _error_page(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return _error_page(request, 403, "Forbidden", "You do not have permission to do this.")


def page_not_found(request, exception=None):
    return _error_page(request, 404, "Not found", "There is nothing here.")


def unavailable(request) -> HttpResponse:
    """503 with ``Retry-After``, rendered without the request context: the context
    processors read the user, and the user lives in the database that is down."""
    retry_after = str(settings.KEEL_UNAVAILABLE_RETRY_AFTER_SECONDS)
    if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"detail": UNAVAILABLE_DETAIL, "code": "unavailable", "errors": {}}, status=503
        )
    else:
        response = HttpResponse(_unavailable_page(retry_after), status=503)
    response["Retry-After"] = retry_after
    return response


def _unavailable_page(retry_after: str) -> str:
    message = (
        "Keel cannot reach its database right now. Nothing you sent was lost or half-saved: "
        f"try again in {retry_after} seconds."
    )
    context = {"status": 503, "title": "Temporarily unavailable", "message": message}
    return render_to_string("unavailable.html", context)


def server_error(request):
    """handler500. Django calls it inside the ``except`` of the failed request, so
    the exception is at hand: a database outage is a 503, not a 500."""
    if is_unavailable(sys.exception()):
        logger.warning("database unavailable for %s: %s", request.path, sys.exception())
        return unavailable(request)
    return _error_page(request, 500, "Server error", "Something broke on our side; it is logged.")


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' lockout answer (``AXES_LOCKOUT_CALLABLE``) for /login/ and
    /admin/login/: 429, ``Retry-After``, and a page that says when in plain words.

    Every attempt during a lockout restarts the cool-off
    (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT``), so "now + cool-off" is
    exactly when the next attempt will be considered."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", _lockout_context(), status=429)
    response["Retry-After"] = str(seconds)
    return response


def _lockout_context() -> dict:
    """How many failures lock out, and when the next attempt will be considered."""
    cool_off = settings.AXES_COOLOFF_TIME
    return {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "retry_at": timezone.now() + cool_off,
        "retry_minutes": max(1, round(int(cool_off.total_seconds()) / 60)),
    }
