"""The table rows of the postmortems and action items lists, written in Python (issue
17): the template language resolving a dozen variables, a URL tag, a filter and an
include per cell was most of these pages' CPU. The markup is the same as the loops in
``templates/postmortems/list.html`` and ``action_items.html`` wrote, byte for byte:
every value is escaped with ``conditional_escape`` and only the rows built from
escaped parts are marked safe."""

from datetime import date

from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from common.timezones import time_element
from postmortems import evidence
from postmortems.models import ActionItem, ActionItemEvidence
from postmortems.selectors import ActionItemListRow, PostmortemListRow

_PLACEHOLDER = 2_147_483_647  # a pk no URL pattern refuses, replaced by each row's


def _url_prefix(name: str) -> tuple[str, str]:
    """``reverse(name, args=[pk])`` as ``before + str(pk) + after``: reversed once per
    page, not once per row."""
    before, after = reverse(name, args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    return before, after


def postmortem_rows(rows: list[PostmortemListRow]) -> SafeString:
    """The ``<tr>`` of each postmortem of the list, as the template's loop wrote them."""
    detail, detail_end = _url_prefix("postmortems:detail")
    incident, incident_end = _url_prefix("incidents:detail")
    esc = conditional_escape
    out = []
    for row in rows:
        out.append(
            "\n    <tr>\n"
            f'      <td data-label="Postmortem"><a href="{detail}{row.pk}{detail_end}">'
            f"{esc(row.title)}</a></td>\n"
            f'      <td data-label="Incident"><a href="{incident}{row.incident_id}{incident_end}">'
            f"#{row.incident_id}</a></td>\n"
            f'      <td data-label="Severity"><span class="badge sev sev-{row.severity_rank}">'
            f"{esc(row.severity_code)}</span></td>\n"
            f'      <td data-label="Status"><span class="pm-status pm-status-{esc(row.status)}">'
            f"{esc(row.status_label)}</span></td>\n"
            f'      <td data-label="Started">{time_element(row.created_at)}</td>\n'
            "    </tr>\n  "
        )
    return mark_safe("".join(out))  # every value above escaped


_TERMS = dict(ActionItem.Term.choices)
_KINDS = dict(ActionItem.Kind.choices)
_STATUSES = dict(ActionItem.Status.choices)
_RESULTS = dict(ActionItemEvidence.Result.choices)
_OVERDUE = ' <span class="badge sev sev-1">Overdue</span>'


def _label(labels: dict, value: str) -> str:
    return conditional_escape(str(labels.get(value, value)))


def _action(item: ActionItemListRow) -> str:
    """The Action cell: the title, linked to its tracker issue when there is one."""
    title = conditional_escape(item.title)
    if not item.tracker_url:
        return title
    cell = (
        f'<a href="{conditional_escape(item.tracker_url)}" rel="noopener noreferrer nofollow">'
        f"{title}</a>"
    )
    if tracker := evidence.tracker_of(item.tracker_url):
        cell += (
            f' <span class="tag tracker">{conditional_escape(tracker.name)} '
            f"{conditional_escape(tracker.key)}</span>"
        )
    return cell


def _evidence(item: ActionItemListRow, url: tuple[str, str]) -> str:
    """The Evidence cell: the verdict of a prevent or detect item's metric."""
    if not item.verifiable_by_metric:
        return '<span class="muted">—</span>\n'
    link = item.evidence
    if link is None:
        state = "Link a metric"
    else:
        mark = "✓ " if link.result == ActionItemEvidence.Result.VERIFIED else ""
        state = (
            f'<span class="evidence-state evidence-{conditional_escape(link.result)}">'
            f"{mark}{_label(_RESULTS, link.result)}</span>"
        )
    return f'<a href="{url[0]}{item.pk}{url[1]}" class="evidence-link">{state}</a>\n'


def action_item_rows(items: list[ActionItemListRow], *, today: date) -> SafeString:
    """The ``<tr>`` of each action item of the list, as the template's loop wrote them."""
    detail, detail_end = _url_prefix("postmortems:detail")
    evidence_url = _url_prefix("postmortems:action_item_evidence")
    esc = conditional_escape
    out = []
    for item in items:
        overdue = item.overdue(today)
        out.append(
            f'\n    <tr class="{"is-overdue" if overdue else ""}">\n'
            f'      <td data-label="Action">{_action(item)}</td>\n'
            f'      <td data-label="Incident"><a href="{detail}{item.postmortem_id}{detail_end}'
            f'#section-action_items">#{item.incident_id}</a></td>\n'
            f'      <td data-label="Term">{_label(_TERMS, item.term)}</td>\n'
            f'      <td data-label="Kind">{_label(_KINDS, item.kind)}</td>\n'
            f'      <td data-label="Owner">{esc(item.owner_username or "—")}</td>\n'
            f'      <td data-label="Team">{esc(item.team_name or "—")}</td>\n'
            f'      <td data-label="Due">{item.due_date.isoformat() if item.due_date else "—"}'
            f"{_OVERDUE if overdue else ''}</td>\n"
            f'      <td data-label="Priority">{esc(item.priority)}</td>\n'
            f'      <td data-label="Status">{_label(_STATUSES, item.status)}</td>\n'
            f'      <td data-label="Evidence">{_evidence(item, evidence_url)}</td>\n'
            "    </tr>\n  "
        )
    return mark_safe("".join(out))  # every value above escaped
