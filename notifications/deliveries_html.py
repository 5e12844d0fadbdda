"""The Communications tab's deliveries table, its rows written in Python (issue 17): a
busy incident has hundreds of deliveries, and the template language resolving each
cell, an include per time and a filter per error was most of the tab's CPU. The markup
is what the loop in ``templates/notifications/partials/communications.html`` wrote,
byte for byte (each Replay form's CSRF token is the page's, masked once); every value
is escaped with ``conditional_escape`` and only rows built from escaped parts are
marked safe."""

import uuid

from django.middleware.csrf import get_token
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from common.formatting import format_duration
from common.timezones import time_element
from notifications.models import Delivery, Destination

_PLACEHOLDER = uuid.UUID(int=0)
_WAITING = frozenset({Delivery.Status.PENDING, Delivery.Status.FAILED})
_REPLAYABLE = frozenset({Delivery.Status.FAILED, Delivery.Status.DEAD, Delivery.Status.SKIPPED})
_STATUSES = dict(Delivery.Status.choices)
_KINDS = dict(Destination.Kind.choices)


def _last_error(delivery: Delivery, problem, *, can_drive: bool) -> str:
    esc = conditional_escape
    if problem is None:
        return esc(truncatechars(delivery.last_error or "—", 300))
    cell = (
        f'<span data-problem="{esc(problem.state)}">{esc(truncatechars(problem.reason, 400))}.'
        "</span>"
    )
    if can_drive:
        cell += f"<br><strong data-advice>What fixes it:</strong> {esc(problem.action)}"
    return cell


def delivery_rows(
    request, deliveries: list[Delivery], *, problems: dict, incident, can_drive: bool
) -> SafeString:
    """The ``<tr>`` of each delivery (``problems``: {delivery pk: its problem})."""
    esc = conditional_escape
    before, after = reverse("communications:replay", args=[incident.pk, _PLACEHOLDER]).split(
        str(_PLACEHOLDER)
    )
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(get_token(request))}">'
        if can_drive
        else ""
    )
    now = timezone.now()
    out = []
    for delivery in deliveries:
        problem = problems.get(delivery.pk)
        destination = delivery.destination
        status = delivery.status
        waiting = (
            ' <span class="muted small" data-waiting>waiting '
            f"{esc(format_duration(now - delivery.created_at))}</span>"
            if status in _WAITING
            else ""
        )
        replay = ""
        if can_drive and status in _REPLAYABLE and (problem is None or problem.replayable):
            url = f"{before}{delivery.pk}{after}"
            replay = (
                f'\n                  <form method="post" action="{url}"\n'
                f'                        hx-post="{url}" hx-disabled-elt="find button">\n'
                f'                    {csrf}<button type="submit" class="button button-small">'
                "Replay</button>\n                  </form>\n                "
            )
        out.append(
            f'\n            <tr data-status="{esc(status)}">\n'
            f'              <td data-label="Audience">{esc(destination.audience.name)}</td>\n'
            f'              <td data-label="Destination">{esc(destination.name)} '
            f'<span class="muted small">{esc(_KINDS.get(destination.kind, destination.kind))}'
            "</span></td>\n"
            f'              <td data-label="Status"><span class="tag tag-{esc(status)}">'
            f"{esc(_STATUSES.get(status, status))}</span>{waiting}</td>\n"
            f'              <td data-label="Attempts">{delivery.attempts}</td>\n'
            f'              <td data-label="Sent">{time_element(delivery.sent_at)}</td>\n'
            f'              <td data-label="Last error" class="small">'
            f"{_last_error(delivery, problem, can_drive=can_drive)}</td>\n"
            f'              <td data-label="">\n                {replay}\n              </td>\n'
            "            </tr>\n          "
        )
    return mark_safe("".join(out))  # every value above escaped
