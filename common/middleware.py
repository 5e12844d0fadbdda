import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, JsonResponse, QueryDict
from django.urls import Resolver404, resolve

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
READS_ITS_OWN_BODY = "/api/v1/integrations/"


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")


def _reject(
    request, status: int, message: str, *, code: str = "invalid", errors: dict | None = None
) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"detail": message, "code": code, "errors": errors or {}}, status=status
        )
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class RequestBodyLimitMiddleware:
    """Refuse bodies over ``KEEL_MAX_BODY_BYTES`` before anything reads them (413).

    A chunked body (``Transfer-Encoding: chunked``, no Content-Length) is not read as
    empty: Django sizes its input stream by Content-Length, so without one every
    view would see no body at all and act on nothing. When the server says its
    input ends at the end of the body (``wsgi.input_terminated``, as gunicorn does)
    the body is read here up to the cap; otherwise it is refused with 411.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.KEEL_MAX_BODY_BYTES
        if request.path_info.startswith(READS_ITS_OWN_BODY):
            # Alert intake reads any size itself, bounded (incidents/intake/body.py): a
            # 413 would make Alertmanager drop the largest outages.
            return self.get_response(request)
        if request.META.get("CONTENT_LENGTH") in (None, "") and self._chunked(request):
            refused = self._read_chunked(request, max(limit, _view_body_allowance(request)))
            if refused is not None:
                return refused
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reject(request, 400, "Content-Length is not a number.")
        if length > limit:
            # Only for a body over the cap: the view is resolved here, not on every request.
            limit = max(limit, _view_body_allowance(request))
        if length > limit:
            return _reject(
                request,
                413,
                f"Request body is {length} bytes; the limit is {limit} bytes.",
                code="request_too_large",
            )
        return self.get_response(request)

    @staticmethod
    def _chunked(request) -> bool:
        return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()

    @staticmethod
    def _read_chunked(request, limit: int) -> HttpResponse | None:
        raw_input = request.META.get("wsgi.input")
        if raw_input is None:
            return None  # ASGI: the server has already read and de-chunked the body
        if not request.META.get("wsgi.input_terminated"):
            return _reject(
                request, 411, "Send a Content-Length with the request body.", code="length_required"
            )
        body = raw_input.read(limit + 1)
        if len(body) > limit:
            return _reject(
                request,
                413,
                f"Request body is over the limit of {limit} bytes.",
                code="request_too_large",
            )
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(body), len(body))
        return None


def accepts_bodies_up_to(size: int):
    """Mark a form view that takes an upload bigger than ``KEEL_MAX_BODY_BYTES`` (up
    to ``size`` bytes) so that it can refuse a too-big file itself, on its form with
    the field named and the limit said ("The logo is 900 KB; at most 192 KB"),
    instead of the edge's bare 413. Django streams the file to disk past
    ``FILE_UPLOAD_MAX_MEMORY_SIZE``; the other fields keep their own cap."""

    def mark(view):
        view.accepts_bodies_up_to = size
        return view

    return mark


def _resolved_view(request):
    try:
        return resolve(request.path_info, getattr(request, "urlconf", None)).func
    except Resolver404:
        return None


def _view_body_allowance(request) -> int:
    return getattr(_resolved_view(request), "accepts_bodies_up_to", 0)


def refuses_unstorable_input_itself(view):
    """Mark a form view that refuses NUL in its form fields itself, before any query
    sees them, so that it can answer with its form again, the input kept and the
    field named (the public subscribe form), instead of the edge's plain 400. The
    address and the query string are still checked here."""
    view.refuses_unstorable_input_itself = True
    return view


def _view_refuses_unstorable_input(request) -> bool:
    return getattr(_resolved_view(request), "refuses_unstorable_input_itself", False)


class UnstorableInputMiddleware:
    """Refuse a NUL character in the path, a query parameter or a form field (400
    naming it), before any view hands it to PostgreSQL, which cannot store or even
    compare it (``?search=%00`` and a ``%00`` in a form's choice field were 500s).

    Form and query decoding already turns invalid UTF-8 (and so lone surrogates)
    into U+FFFD; JSON bodies are checked by ``common.jsonguard``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            return _reject(request, 400, "The address contains a NUL character.")
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            refused = self._refuse_nul(request, request.GET, "query parameter")
            if refused is not None:
                return refused
        content_type = request.META.get("CONTENT_TYPE", "")
        if request.method == "POST" and content_type.startswith(FORM_TYPES):
            if content_type.startswith(FORM_TYPES[0]):
                body = request.body  # cached: a view reading request.body later still can
                suspect = b"%00" in body or b"\x00" in body
                data = QueryDict(body, encoding=request.encoding) if suspect else None
            else:
                # Read (and cache) the raw body first: parsing the multipart stream
                # would otherwise consume it, and a view that needs request.body (the
                # Slack signature check) would raise. The body cap bounds the copy; an
                # upload view allowed more (``accepts_bodies_up_to``) reads its files
                # from the stream, which Django spools to disk.
                if not _view_body_allowance(request):
                    request.body  # noqa: B018
                data = request.POST
            if data is not None:
                refused = self._refuse_nul(request, data, "field")
                if refused is not None and not _view_refuses_unstorable_input(request):
                    return refused
        return self.get_response(request)

    @staticmethod
    def _refuse_nul(request, data: QueryDict, what: str) -> HttpResponse | None:
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                name = key.replace("\x00", "\\x00")
                return _reject(
                    request,
                    400,
                    f"The {what} '{name}' contains a NUL character.",
                    code="invalid_characters",
                    errors={name: ["This field cannot contain a NUL character."]},
                )
        return None


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
