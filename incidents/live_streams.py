"""The live pages' machinery, shared by every app's live endpoints: an ``ETag``
answer for polling and a Server-Sent Events stream on a Redis channel.

A stream holds one thread of its web process; there are at most
``KEEL_LIVE_MAX_STREAMS`` per process, one more is refused with 503 and
``Retry-After`` and the page polls instead. Its events: ``hello`` (the version),
``changed`` (a new version, deduplicated), the caller's own events, ``bye`` at the
end of its lifetime (the browser reconnects with ``Last-Event-ID``) and a heartbeat
comment.
"""

import json
import logging
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from incidents import live

logger = logging.getLogger(__name__)

ID_MAX = 64  # a Last-Event-ID longer than any token we send is not ours


def etag_response(request: HttpRequest, token: str, body: dict) -> HttpResponse:
    """``body`` as JSON with ``ETag: "token"``, or 304 when the client has it."""
    etag = f'"{token}"'
    if request.headers.get("If-None-Match", "") == etag:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(body)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _release_database() -> None:
    """A stream lives for minutes: give its database connection back between uses
    (not inside a transaction, i.e. never in a test's)."""
    if not connection.in_atomic_block:
        connection.close()


def sse(event: str, data: dict, *, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data)}")
    return "\n".join(lines) + "\n\n"


def _refused(reason: str) -> HttpResponse:
    response = HttpResponse(reason, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(settings.KEEL_LIVE_POLL_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def event_stream(
    *,
    channel: str,
    last_event_id: str,
    version: Callable[[], str | None],
    on_message: Callable[[dict], dict | None],
    hello: Callable[[str], dict],
    on_beat: Callable[[], None] = lambda: None,
    on_close: Callable[[], None] = lambda: None,
) -> HttpResponse:
    """The stream on ``channel``. ``on_message(payload)`` returns an event to send
    (``{"event", "data"}``, optional ``"stop"``) or ``None`` to drop it; ``changed``
    events are deduplicated by version, which is also their id."""
    if not live.streams_enabled():
        # 204: an EventSource stops reconnecting; the page polls.
        response = HttpResponse(status=204)
        response["Cache-Control"] = "no-store"
        return response
    slot = live.stream_slot_take()
    if slot is None:
        return _refused("Too many live streams on this server; poll the version instead.")
    try:
        pubsub = live.redis_client("stream").pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(channel)
    except Exception as exc:
        live.stream_slot_give_back(slot)
        logger.warning("live: stream on %s not opened: %s", channel, exc)
        return _refused("Live streams are unavailable; poll the version instead.")
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        try:
            on_close()
        finally:
            pubsub.close()
            live.stream_slot_give_back(slot)
            _release_database()

    def events() -> Iterator[str]:
        try:
            current = version()
            _release_database()
            yield "retry: 3000\n\n"
            yield sse("hello", hello(current), event_id=current)
            if last_event_id and last_event_id != current:
                yield sse("changed", {"version": current}, event_id=current)
            heartbeat = settings.KEEL_LIVE_HEARTBEAT_SECONDS
            deadline = time.monotonic() + settings.KEEL_LIVE_STREAM_SECONDS
            next_beat = time.monotonic() + heartbeat
            while (now := time.monotonic()) < deadline:
                message = pubsub.get_message(timeout=max(0.0, min(next_beat, deadline) - now))
                # Drain a burst (one commit publishes several); the same notice once.
                burst = []
                while message is not None:
                    if message.get("type") == "message":
                        burst.append(message["data"])
                    message = pubsub.get_message(timeout=0)
                for data in dict.fromkeys(burst):
                    stop = yield from _handle(data, on_message, current)
                    if isinstance(stop, str):
                        current = stop
                    elif stop is True:
                        return
                if time.monotonic() >= next_beat:
                    on_beat()
                    _release_database()
                    yield ": keep-alive\n\n"
                    next_beat = time.monotonic() + heartbeat
            yield sse("bye", {"reconnect": True})
        except Exception as exc:  # Redis gone mid-stream: end it, the page polls
            logger.warning("live: stream on %s ended: %s", channel, exc)
        finally:
            release()

    def _handle(data, handler, current):
        try:
            payload = json.loads(data)
        except (TypeError, ValueError):
            return None
        if not isinstance(payload, dict):
            return None
        out = handler(payload)
        _release_database()
        if out is None:
            return None
        if out.get("stop"):
            yield sse(out["event"], out.get("data", {}))
            return True
        if out["event"] == "changed":
            new = out["data"].get("version")
            if new == current:
                return None
            yield sse("changed", out["data"], event_id=new)
            return new
        yield sse(out["event"], out.get("data", {}))
        return None

    response = StreamingHttpResponse(
        _ClosingStream(events(), release), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
    return response


class _ClosingStream:
    """The events, and a ``close`` the server calls when the response is done: it
    gives the slot and the Redis connection back even if the stream never started
    (a generator that never ran has no ``finally`` to run)."""

    def __init__(self, events: Iterator[str], release: Callable[[], None]):
        self.events = events
        self.release = release

    def __iter__(self) -> Iterator[str]:
        return self.events

    def close(self) -> None:
        try:
            self.events.close()
        finally:
            self.release()


def last_event_id(request: HttpRequest) -> str:
    value = request.headers.get("Last-Event-ID", "")
    return value if len(value) <= ID_MAX and value.isalnum() else ""


def list_stream_for(request: HttpRequest, *, version: Callable[[], str]) -> HttpResponse:
    """A stream of the incidents ``request.user`` may see; ``version`` names the page's
    state (the list's, or the CS desk's)."""
    user = request.user

    def on_message(payload: dict) -> dict | None:
        if payload.get("what") != "changed" or not live.forwardable(user, payload):
            return None
        return {"event": "changed", "data": {"version": version()}}

    return event_stream(
        channel=live.channel_for(None),
        last_event_id=last_event_id(request),
        version=version,
        on_message=on_message,
        hello=lambda current: {"version": current},
    )
