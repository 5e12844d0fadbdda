"""The incident list's table body, written in Python from the values the selector
read (``selectors.incident_list_rows``): one string per row, every value escaped with
``django.utils.html.escape``. As a template loop (50 rows, a dozen variables and a
filter each) it was half of the page's CPU; as includes over model instances it had
been most of it.

The markup is what the template wrote, cell for cell: people and times by the
writers every page uses (``person_named``, ``time_element``), the outcome as
``incidents/partials/outcome_badge.html`` and the delivery-problem badge as the
template wrote them (``tests/incidents/test_list_rows.py`` holds those two equal)."""

from collections.abc import Mapping, Sequence
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

from common.formatting import format_duration
from common.templatetags.keel import person_named
from common.timezones import time_element
from incidents.lifecycle import Outcome, Stage
from incidents.selectors import IncidentListRow

_STAGE_LABELS = {stage.value: str(stage.label) for stage in Stage}
_OUTCOME_LABELS = {outcome.value: str(outcome.label) for outcome in Outcome}
_NOBODY = '<span class="muted">—</span>'
_PRIVATE = (
    '<span class="badge private" title="Visible only to participants and admins">'
    '<span aria-hidden="true">🔒</span> Private</span>'
)
_CLOSED = '<span class="badge state-closed">Closed</span>'
# A number no incident has, replaced by each row's: one reverse() per page, not per row.
_PK_MARK = "987654321987654321"


def _ending(row: IncidentListRow) -> str:
    """How it ended, as ``incidents/partials/outcome_badge.html`` writes it."""
    if row.closed_at is None:
        return ""
    if row.outcome == Outcome.RESOLVED:
        return _CLOSED
    label = _OUTCOME_LABELS.get(row.outcome, "")
    shown = f"Duplicate of #{row.duplicate_of_id}" if row.outcome == Outcome.DUPLICATE else label
    return (
        f'<span class="badge outcome outcome-{escape(row.outcome)}" '
        f'title="Closed as {escape(label.lower())}: not counted in the lifecycle metrics">'
        f"{escape(shown)}</span>"
    )


def _delivery_problems(found: Sequence, url: str) -> str:
    """The badge of the deliveries not sent (``notifications.problems.Marked``: the
    problems judged, and how many more deliveries may be in trouble)."""
    if not found:
        return ""
    said = [
        f"{conditional_escape(problem.audience)}: {conditional_escape(problem.reason)}"
        for problem in found
    ]
    unjudged = getattr(found, "unjudged", 0)
    if unjudged:
        said.append(f"{unjudged} more may be stuck: see the incident")
    count = len(found)
    return (
        f'<a class="badge delivery-problem" data-delivery-problem '
        f'href="{url}#communications-banner" title="{" · ".join(said)}">'
        f'<span aria-hidden="true">⚠</span> {count}{"+" if unjudged else ""} '
        f"deliver{'y' if count == 1 and not unjudged else 'ies'} "
        f'not sent<span class="visually-hidden">: {said[0]}</span></a>'
    )


def table_rows(rows: Sequence[IncidentListRow], problems: Mapping[int, Sequence]) -> SafeString:
    """The ``<tr>`` of each row; ``problems``: ``{incident id: [problems]}`` of the
    deliveries not sent (``delivery_problems_by_incident``)."""
    now = timezone.now()
    url_pattern = reverse("incidents:detail", args=[_PK_MARK])
    shown = []
    for row in rows:
        pk = str(row.pk)
        url = url_pattern.replace(_PK_MARK, pk)
        title_extras = "".join(
            f"\n        {part}"
            for part in (
                _PRIVATE if row.private else "",
                _ending(row),
                _delivery_problems(problems.get(row.pk, ()), url),
            )
            if part
        )
        open_for = format_duration(max((row.closed_at or now) - row.detected_at, timedelta(0)))
        services = escape(", ".join(row.services)) if row.services else _NOBODY
        commander = person_named(
            row.commander_username,
            f"{row.commander_first_name} {row.commander_last_name}".strip(),
        )
        detected = time_element(row.detected_at)
        shown.append(
            f'    <tr class="{"is-open" if row.closed_at is None else "is-closed"}">\n'
            f'      <td class="num" data-label="#">{pk}</td>\n'
            '      <td class="title-cell" data-label="Title">\n'
            f'        <span class="num-inline muted" aria-hidden="true">#{pk}</span>\n'
            f'        <a href="{url}">{escape(row.title)}</a>{title_extras}\n'
            "      </td>\n"
            f'      <td data-label="Severity"><span class="badge sev sev-{row.severity_rank}" '
            f'title="{escape(row.severity_name)}">{escape(row.severity_code)}</span></td>\n'
            f'      <td data-label="Stage"><span class="badge stage stage-{escape(row.stage)}">'
            f"{escape(_STAGE_LABELS.get(row.stage, row.stage))}</span></td>\n"
            f'      <td data-label="Services">{services}</td>\n'
            f'      <td data-label="Commander">{commander}</td>\n'
            f'      <td data-label="Detected">{detected}</td>\n'
            f'      <td data-label="Open for">{open_for}</td>\n'
            "    </tr>\n"
        )
    return mark_safe("".join(shown))  # every value above is escaped
