"""Structured logs: every line carries the ids of what it is about (seed 000).

One context per request or task, held in a ``ContextVar``: the request id
(accepted from ``X-Request-ID`` or generated, and returned in the response), the
user, the incident, the delivery and the Celery task. ``ContextFilter`` copies
it onto each record, ``JsonFormatter`` writes one JSON object per line, and
``SecretsFilter`` masks tokens and passwords before anything is written.

The request id travels with the tasks a request enqueues (a message header), so
a delivery's worker lines can be found from the request that caused them.
"""

import contextlib
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "keel_request_id"
FIELDS = ("request_id", "user", "incident_id", "delivery_id", "task_id")
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_context: ContextVar[dict | None] = ContextVar("keel_log_context", default=None)


def current() -> dict:
    return dict(_context.get() or {})


@contextlib.contextmanager
def bound(**ids):
    """Add ``ids`` to the log context for the duration of the block."""
    token = _context.set({**current(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a sane token, a fresh one otherwise."""
    if value and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


# Tokens and passwords never reach a log line, whoever logs them.
_SECRET_PATTERNS = [
    (re.compile(r"\b(xox[abposr]-)[A-Za-z0-9-]+"), r"\1[redacted]"),
    (
        re.compile(
            r"(?i)\b(authorization[\"']?\s*[:=]?\s*[\"']?\s*(?:token|bearer|basic))\s+[^\s\"',]+"
        ),
        r"\1 [redacted]",
    ),
    (
        re.compile(
            r"(?i)\b((?:password|passwd|secret|token|api_key)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        for field in FIELDS:
            if not hasattr(record, field):
                setattr(record, field, context.get(field))
        return True


class SecretsFilter(logging.Filter):
    """Renders the message once, masked; the arguments are dropped so no handler
    formats the raw values again."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format, with whichever ids are set appended as ``key=value``."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{field}={getattr(record, field)}"
            for field in FIELDS
            if getattr(record, field, None) is not None
        )
        text = super().format(record)
        return f"{text} [{ids}]" if ids else text


class RequestContextMiddleware:
    """Binds the request id and user for the request's log lines and returns the id.

    Placed after ``AuthenticationMiddleware`` (it reads ``request.user``); views of
    one incident (``incidents:…`` and ``communications:…`` URLs with ``pk``) add its id.
    The context is cleared when the request finishes (``clear`` on
    ``request_finished``), not when this middleware returns: Django logs 4xx and 5xx
    answers after the middleware chain, and those lines need the ids most.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        user = getattr(request, "user", None)
        username = user.get_username() if user is not None and user.is_authenticated else None
        _context.set({"request_id": request_id, "user": username})
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        incident_id = view_kwargs.get("pk") or view_kwargs.get("incident_id")
        if match and incident_id and {"incidents", "communications"} & set(match.namespaces):
            _context.set({**current(), "incident_id": incident_id})
        return None


def clear(**kwargs) -> None:
    _context.set(None)


# Celery: the request id rides along in a message header; each task binds its own id.


def task_publish_carries_request_id(headers=None, **kwargs) -> None:
    request_id = current().get("request_id")
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


_task_tokens: dict[str, object] = {}


def task_binds_context(task_id=None, task=None, **kwargs) -> None:
    request_id = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if request_id is None and task is not None:
        request_id = (getattr(task.request, "headers", None) or {}).get(TASK_HEADER)
    _task_tokens[task_id] = _context.set({"task_id": task_id, "request_id": request_id})


def task_clears_context(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _context.reset(token)
