"""HTTP requests and their latency, by view (the URL pattern's name, never the raw
path: ``/incidents/123/`` and ``/incidents/456/`` are one series, so the label
set is bounded by the URL configuration)."""

import time

from django.conf import settings

from common import metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no URL pattern matched (a 404 before any view)

HTTP_REQUESTS = metrics.counter(
    "keel_http_requests",
    "HTTP requests answered, by view (URL pattern name), method and status code.",
    ("view", "method", "status"),
)
HTTP_LATENCY = metrics.histogram(
    "keel_http_request_duration_seconds",
    "Seconds from the request reaching Django to the response leaving it, by view.",
    ("view",),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


STATIC = "static"  # answered by WhiteNoise before URL routing


def view_label(request) -> str:
    """The URL pattern's name; what a middleware answered before routing names
    itself (``request.metrics_view``, e.g. the status page snapshot); static files
    are ``static``; anything else unrouted (a 404) is ``unmatched``."""
    named = getattr(request, "metrics_view", None)
    if named:
        return named
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return match.view_name
    if settings.STATIC_URL and request.path_info.startswith(settings.STATIC_URL):
        return STATIC
    return UNMATCHED


class HttpMetricsMiddleware:
    """Outermost but one (after the security headers): times everything below it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(time.perf_counter() - started)
        return response
