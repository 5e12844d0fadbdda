"""The incident page's communications banner, rendered by the notifications app so
that incidents code never imports it (STYLE.md: the dependency direction)."""

from django import template
from django.conf import settings
from django.utils import timezone

from common.formatting import format_duration
from common.roles import can_drive_incidents
from notifications import cadence, problems, selectors

register = template.Library()

# The troubled deliveries the banner reads at most, oldest first.
BANNER_DELIVERIES = 200


@register.inclusion_tag("notifications/partials/banner.html", takes_context=True)
def communications_banner(context, incident, on_tab=False, pauses=None):
    """Warn, on the incident's Overview, about every delivery that has not reached its
    audience (why, in plain words, and what fixes it, with Replay where it can help),
    a paused channel, an audience overdue for an update, updates waiting for a worker.

    ``on_tab``: on the Communications tab, which pages its deliveries, so that the
    deliveries in trouble on other pages are named too; the tab says itself which
    channels are paused and which audiences are overdue (its cadence). ``pauses``: the
    ChannelPause rows, when the page has read them."""
    unsent = selectors.unsent_for(incident=incident)
    waiting = _waiting(unsent.waiting)
    pauses = list(selectors.channel_pauses()) if pauses is None else pauses
    # Bounded: an incident whose every update failed to reach a dead channel has
    # thousands; the banner says so once (the Communications tab pages them all).
    # Every delivery sent (or none written): none can be in trouble, nothing to read.
    found = []
    if unsent.count:
        found = problems.problems_for(incident=incident, pauses=pauses, limit=BANNER_DELIVERIES + 1)
    more = len(found) > BANNER_DELIVERIES
    found = found[:BANNER_DELIVERIES]
    if waiting is not None:
        # The waiting line says why they wait (no worker); one line, not one per delivery.
        found = [p for p in found if p.delivery.status not in ("pending", "sending")]
    overdue = [] if on_tab else cadence.overdue_for(incident=incident, now=timezone.now())
    held_kinds = {p.delivery.destination.kind for p in found if p.state == "held"}
    shown_pauses = [] if on_tab else [p for p in pauses if p.kind not in held_kinds]
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "incident": incident,
        "problems": _grouped(found),
        "pauses": shown_pauses,
        "overdue": overdue,
        "waiting": waiting,
        "more_problems": more,
        "on_tab": on_tab,
        "can_drive": bool(user and can_drive_incidents(user)),
        "csrf_token": context.get("csrf_token"),
    }


def _grouped(found: list) -> list[dict]:
    """One row per destination and reason: three updates held by one paused channel
    are one line, with the deliveries counted."""
    rows: dict[tuple, dict] = {}
    for problem in found:
        key = (problem.delivery.destination_id, problem.state, problem.reason, problem.action)
        row = rows.setdefault(key, {"problem": problem, "count": 0, "replayable": []})
        row["count"] += 1
        if problem.replayable:
            row["replayable"].append(problem.delivery)
    return list(rows.values())


@register.simple_tag
def delivery_problems_by_incident(rows) -> dict:
    """``{incident id: problems.Marked}`` for a page of incidents (the incident list)
    or of items with an ``incident`` (the CS desk), in a fixed number of queries."""
    incidents = [getattr(row, "incident", row) for row in rows]
    return problems.problems_by_incident(incident_ids=[incident.pk for incident in incidents])


@register.filter
def problems_of(by_incident: dict, incident) -> problems.Marked:
    return by_incident.get(incident.pk, problems.Marked([]))


def _waiting(waiting: selectors.Waiting | None) -> dict | None:
    """ "3 updates waiting 2m 10s: no worker has been seen for 2m 05s" — or None while
    deliveries leave as usual (pending for a moment is normal)."""
    if waiting is None or waiting.seconds < settings.KEEL_DELIVERY_WAITING_BANNER_SECONDS:
        return None
    seen = selectors.worker_last_seen()
    if seen is None:
        reason = "no worker has been seen"
    else:
        silent = timezone.now() - seen
        if silent.total_seconds() > settings.KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS:
            reason = f"no worker has been seen for {format_duration(silent)}"
        else:
            reason = "the workers are behind"
    return {
        "updates": waiting.updates,
        "deliveries": waiting.deliveries,
        "for": format_duration(timezone.now() - waiting.oldest_at),
        "reason": reason,
    }
