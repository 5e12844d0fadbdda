from django.conf import settings
from django.http import HttpResponse, JsonResponse


class RequestBodyLimitMiddleware:
    """Refuse bodies over ``KEEL_MAX_BODY_BYTES`` before anything reads them (413).

    Django's own cap (``DATA_UPLOAD_MAX_MEMORY_SIZE``) still guards bodies sent
    without a Content-Length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.KEEL_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._reject(request, 400, "Content-Length is not a number.")
        if length > limit:
            return self._reject(
                request, 413, f"Request body is {length} bytes; the limit is {limit} bytes."
            )
        return self.get_response(request)

    @staticmethod
    def _reject(request, status: int, message: str) -> HttpResponse:
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            code = "request_too_large" if status == 413 else "invalid"
            return JsonResponse({"detail": message, "code": code, "errors": {}}, status=status)
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class SecurityHeadersMiddleware:
    """The security headers every response carries, whoever produced it.

    First in ``MIDDLEWARE``, so it also covers what is answered before the views
    run: WhiteNoise's static files, the status page snapshot
    (``statuspage.middleware.SnapshotMiddleware``) and the body-limit 413s, none
    of which pass Django's ``XFrameOptionsMiddleware``. A small middleware rather
    than django-csp: the policy is one fixed string with no per-request nonce
    (there are no inline scripts left), and the other headers need the same
    place; a dependency would add a second configuration surface for nothing.

    ``setdefault``: a view that needs another policy sets its own header.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.KEEL_CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": settings.SECURE_REFERRER_POLICY,
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        }

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        return response
