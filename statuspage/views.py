"""Serve the public status page and JSON from the static snapshot: files only.

No database, no cache, no broker, no session: the page keeps working when
PostgreSQL, Redis and the workers are all down. Responses carry ``ETag``,
``Last-Modified``, a short ``max-age`` with ``stale-if-error`` and no cookies.
"""

import json
import logging
import os
import threading
from datetime import datetime
from email.utils import format_datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from common import ratelimit
from common.exceptions import ApplicationError, RateLimited
from common.middleware import refuses_unstorable_input_itself
from statuspage import cs, pages, presenters, selectors, snapshot, subscriptions
from statuspage.live_views import cs_version

logger = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=30, stale-if-error=86400"


class _Release:
    """One snapshot release in memory: its manifest and the bytes read so far.

    A release never changes once published, so its files can be kept; a new
    release (a new symlink target) starts a new cache.
    """

    def __init__(self, path):
        self.path = path
        manifest = json.loads((path / snapshot.MANIFEST).read_text())
        self.files = manifest["files"]
        self.generated_at = manifest["generated_at"]
        self.last_modified = format_datetime(
            datetime.fromisoformat(manifest["generated_at"]), usegmt=True
        )
        self.bodies: dict[str, bytes] = {}

    def body(self, rel: str) -> bytes:
        body = self.bodies.get(rel)
        if body is None:
            body = (self.path / rel).read_bytes()
            self.bodies[rel] = body
        return body


_lock = threading.Lock()
_loaded: dict[str, _Release] = {}


_link_for: dict[str, str] = {}


def _release():
    """The live release: one ``readlink`` per request, everything else cached."""
    root = str(settings.STATUSPAGE_SNAPSHOT_DIR)
    link = _link_for.get(root)
    if link is None:
        link = _link_for[root] = os.path.join(root, snapshot.CURRENT)
    try:
        target = os.readlink(link)
    except OSError:
        return None
    key = f"{link}>{target}"
    release = _loaded.get(key)
    if release is None:
        with _lock:
            release = _loaded.get(key)
            if release is None:
                release = _Release(snapshot.root() / target)
                _loaded.clear()
                _loaded[key] = release
    return release


def snapshot_path(path: str) -> str | None:
    """The snapshot file a public URL maps to, or None when it is not one."""
    if path.startswith("/api/v2/"):
        return path[1:]
    if path.startswith("/status/"):
        return path[1:] + "index.html" if path.endswith("/") else path[1:]
    return None


def _bootstrap():
    """No snapshot yet (first start): publish one now, if the database allows."""
    try:
        snapshot.snapshot_publish()
    except Exception:
        logger.exception("no status page snapshot and publishing one failed")
        return None
    return _release()


def _unavailable() -> HttpResponse:
    response = HttpResponse(
        "The status page has not been published yet. Try again shortly.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = "30"
    response["Cache-Control"] = "no-store"
    return response


def _not_found(release, rel: str) -> HttpResponse:
    """The page's own 404 (styled, linking back) or, under the API, a JSON error."""
    if rel.startswith("api/"):
        response = HttpResponse(
            json.dumps({"error": "Not found", "status": 404}),
            status=404,
            content_type="application/json",
        )
        response["Access-Control-Allow-Origin"] = "*"
    elif "status/404.html" in release.files:
        response = HttpResponse(
            release.body("status/404.html"),
            status=404,
            content_type=release.files["status/404.html"]["content_type"],
        )
    else:  # a snapshot published before the 404 page existed
        response = HttpResponse("Not found.\n", status=404, content_type="text/plain")
    response["Cache-Control"] = "public, max-age=30"
    return response


def serve(request, rel: str) -> HttpResponse:
    release = _release() or _bootstrap()
    if release is None:
        return _unavailable()
    meta = release.files.get(rel)
    if meta is None:
        return _not_found(release, rel)
    response = _file_response(request, release, rel, meta)
    response["ETag"] = meta["etag"]
    response["Last-Modified"] = release.last_modified
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Snapshot-Generated-At"] = release.generated_at
    if rel.startswith("api/"):
        response["Access-Control-Allow-Origin"] = "*"
    return response


def _file_response(request, release: _Release, rel: str, meta: dict) -> HttpResponse:
    """The file's bytes (none for HEAD), or 304 when the reader has this version."""
    if request.headers.get("If-None-Match") == meta["etag"]:
        return HttpResponseNotModified()
    body = b"" if request.method == "HEAD" else release.body(rel)
    response = HttpResponse(body, content_type=meta["content_type"])
    response["Content-Length"] = str(meta["size"])
    return response


@csrf_exempt
@require_safe
def status_file(request, path: str = "") -> HttpResponse:
    """``/status/<path>``: a directory URL maps to its ``index.html``."""
    directory = path.endswith("/") or path == ""
    rel = f"status/{path}index.html" if directory else f"status/{path}"
    return serve(request, rel)


@csrf_exempt
@require_safe
def api_file(request, path: str) -> HttpResponse:
    return serve(request, f"api/v2/{path}")


# Subscriptions: the only public views that touch the database. -------------------


def _message(request, heading: str, lines: list[str], *, status: int = 200, **extra):

    context = {
        **pages.common_context(timezone.now()),
        "dynamic": True,
        "heading": heading,
        "lines": lines,
        **extra,
    }
    response = render(request, "statuspage/message.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _form(request, *, error: ApplicationError, values: dict) -> HttpResponse:
    """The subscribe form again, the input kept and the reason said in plain words
    beside the field at fault (``error`` is the service's ApplicationError); over a
    rate limit, 429 with ``Retry-After``."""

    components = list(selectors.components_all())
    shown = FORM_FIELDS if components else FORM_FIELDS - {"components"}
    context = {
        **pages.common_context(timezone.now()),
        "dynamic": True,
        "components": components,
        "error": error.message,
        # Beside its field when the form shows that field; above the form otherwise.
        "error_field": error.field if error.field in shown else None,
        "values": {key: _shown(value) for key, value in values.items()},
    }
    limited = isinstance(error, RateLimited)
    response = render(request, "statuspage/subscribe.html", context, status=429 if limited else 400)
    response["Cache-Control"] = "no-store"
    if limited:
        response["Retry-After"] = str(error.retry_after)
    return response


FORM_FIELDS = {"email", "endpoint", "components"}


def _cut(value: str, limit: int) -> str:
    return value[:limit]


def _shown(value):
    """Input as it is put back in the form: control characters (a NUL above all, which
    the page cannot carry) become U+FFFD, so the visitor sees where they were."""
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return "".join("\ufffd" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value)


def _posted_components(request) -> list[str]:
    return [_cut(c, 40) for c in request.POST.getlist("components")[:200]]


def _subscribe_input(request) -> dict:
    """The form's fields, each cut to a length no valid value exceeds."""
    return {
        "kind": _cut(request.POST.get("kind", "email"), 20),
        "email": _cut(request.POST.get("email", ""), 300),
        "endpoint": _cut(request.POST.get("endpoint", ""), 600),
        "components": _posted_components(request),
    }


@refuses_unstorable_input_itself  # a NUL gets the form back with the field named
@csrf_exempt  # the form lives on the static snapshot; double opt-in guards email
@require_POST
def subscribe(request) -> HttpResponse:
    values = _subscribe_input(request)
    try:
        outcome = subscriptions.subscriber_subscribe(
            kind=values["kind"],
            email=values["email"],
            endpoint=values["endpoint"],
            component_ids=values["components"],
            client=ratelimit.client_address(request),
        )
    except ApplicationError as exc:
        return _form(request, error=exc, values=values)
    return _message(request, **presenters.subscribe_answer(outcome))


def _link_not_valid(request, exc: ApplicationError) -> HttpResponse:
    return _message(request, "Link not valid", [exc.message], status=400)


def _signed_link(
    request, token: str, *, purpose: str, done: tuple, ask: str, button: str
) -> HttpResponse:
    """A signed link's page: GET checks the token and shows a button, since link
    scanners must not act (``ask`` on it, ``button``); POST does what the link is for
    (``purpose``: confirm or unsubscribe) and says ``done`` (heading, lines)."""
    perform = {
        "confirm": subscriptions.subscriber_confirm,
        "unsubscribe": subscriptions.subscriber_unsubscribe,
    }[purpose]
    try:
        if request.method == "POST":
            perform(token=token)
            return _message(request, *done)
        subscriptions.subscriber_from_token(token, purpose)
    except ApplicationError as exc:
        return _link_not_valid(request, exc)
    return _message(request, ask, [], action=request.path, button=button)


@csrf_exempt  # reached from the signed link in an email; the token is the credential
def manage(request, token: str) -> HttpResponse:
    """GET shows the subscription's components; POST saves the ones ticked."""
    try:
        if request.method == "POST":
            ids = _posted_components(request)
            subscriptions.subscriber_components_set(token=token, component_ids=ids)
            return _message(request, "Saved", ["Your subscription now covers what you ticked."])
        subscriber = subscriptions.subscriber_from_token(token, "manage")
        if subscriber.unsubscribed_at is not None:
            raise ApplicationError("This subscription was cancelled; subscribe again.")
    except ApplicationError as exc:
        return _link_not_valid(request, exc)
    return _message(request, **presenters.subscription_manage(subscriber, action=request.path))


@csrf_exempt
def confirm(request, token: str) -> HttpResponse:
    """GET shows a button (link scanners must not confirm); POST confirms."""
    return _signed_link(
        request,
        token,
        purpose="confirm",
        done=("Subscribed", ["You will hear from us when something happens."]),
        ask="Confirm your subscription",
        button="Confirm subscription",
    )


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without a token of ours
def unsubscribe(request, token: str) -> HttpResponse:
    return _signed_link(
        request,
        token,
        purpose="unsubscribe",
        done=("Unsubscribed", ["You will not receive any more messages."]),
        ask="Unsubscribe",
        button="Unsubscribe",
    )


# CS brief (internal) ------------------------------------------------------------


@login_required
@require_safe
def cs_brief(request) -> HttpResponse:
    """Every signed-in user (viewers included) may read it; static/js/live.js
    refreshes the items in place when they change (statuspage.live_views), a plain
    reload every 60 s does without JavaScript."""
    now = timezone.now()
    # The version first: a change landing while the items are read leaves the page
    # older than its version says, and the next poll or event fetches it again.
    live_version = cs_version(request.user, now)
    items = cs.brief_items(user=request.user, now=now)
    context = {"items": items, "now": now, "live_version": live_version}
    response = render(request, "statuspage/cs_brief.html", context)
    response["Cache-Control"] = "private, no-store"
    return response
