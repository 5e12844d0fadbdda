"""The live pages' endpoints: a version to poll (``ETag``/304) and an event stream.

Polling (every page, the embedded default): ``GET …/live/`` answers
``{"version", "here"}`` and 304 while nothing changed. Streams (with Redis):
``GET …/live/stream/`` is ``text/event-stream``: ``hello`` (the version, who is
here), ``changed`` (a new version: fetch the fragment again), ``presence``,
``bye`` (the stream's lifetime is over: the browser reconnects with
``Last-Event-ID`` and hears ``changed`` at once if it missed something), and a
heartbeat comment. A stream holds one thread of its web process; there are at most
``KEEL_LIVE_MAX_STREAMS`` per process, one more is refused with 503 and
``Retry-After`` and the page polls instead.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from incidents import live
from incidents.live_streams import etag_response, event_stream, last_event_id, list_stream_for
from incidents.models import Incident
from incidents.visibility import can_see


def _visible_incident_id(request: HttpRequest, pk: int) -> Incident:
    incident = Incident.objects.filter(pk=pk).only("pk", "private").first()
    if incident is None or not can_see(request.user, incident):
        raise Http404("No such incident.")
    return incident


# ---- the incident page -------------------------------------------------------------


@login_required
@require_GET
def incident_state(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident's version and who else has it open; refreshes my presence."""
    incident = _visible_incident_id(request, pk)
    if live.presence_touch(incident.pk, request.user):
        live.publish(incident.pk, private=incident.private, what="presence")
    here = live.presence_list(incident.pk, exclude=request.user)
    version = live.incident_version(incident.pk) or ""
    return etag_response(request, live.token(version, *here), {"version": version, "here": here})


@login_required
@require_GET
def incident_stream(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident_id(request, pk)
    user = request.user

    def here() -> list[str]:
        return live.presence_list(incident.pk, exclude=user)

    def on_message(payload: dict) -> dict | None:
        if payload.get("incident") != incident.pk:
            return None
        if payload.get("what") == "presence":
            return {"event": "presence", "data": {"here": here()}}
        if not live.still_visible(user, incident.pk):
            return {"event": "gone", "data": {}, "stop": True}
        return {"event": "changed", "data": {"version": live.incident_version(incident.pk)}}

    def on_beat() -> None:
        if live.presence_touch(incident.pk, user):
            live.publish(incident.pk, private=incident.private, what="presence")

    def on_close() -> None:
        live.presence_leave(incident.pk, user)
        live.publish(incident.pk, private=incident.private, what="presence")

    response = event_stream(
        channel=live.channel_for(incident.pk),
        last_event_id=last_event_id(request),
        version=lambda: live.incident_version(incident.pk) or "",
        on_message=on_message,
        hello=lambda current: {"version": current, "here": here()},
        on_beat=on_beat,
        on_close=on_close,
    )
    if isinstance(response, StreamingHttpResponse):
        on_beat()  # present from the moment the stream opens
    return response


# ---- the incident list (and the CS desk, which lists the same incidents) -------------


@login_required
@require_GET
def list_state(request: HttpRequest) -> HttpResponse:
    version = live.list_version(request.user)
    return etag_response(request, version, {"version": version})


@login_required
@require_GET
def list_stream(request: HttpRequest) -> HttpResponse:
    return list_stream_for(request, version=lambda: live.list_version(request.user))
