"""The incident history page's rows, written in Python (issue 17): a busy incident's
trail is hundreds of entries of a few changes each, and the template language
resolving each cell, an include per time and a loop per entry was most of the page's
CPU. The markup is what the loop in ``templates/incidents/history.html`` wrote, byte
for byte; every value is escaped with ``conditional_escape`` and only rows built from
escaped parts are marked safe."""

from django.template.defaultfilters import capfirst
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from common.timezones import time_element
from incidents.history import HistoryEntry

_NO_CHANGES = '          <span class="muted">—</span>\n'
_LIST_OPEN = '          \n            <ul class="changes">\n            '
_LIST_CLOSE = "\n            </ul>\n          \n"


def _changes(entry: HistoryEntry) -> str:
    if not entry.changes:
        return _NO_CHANGES
    esc = conditional_escape
    items = "".join(
        f'\n              <li data-field="{esc(change.field)}"><span class="change-field">'
        f"{esc(capfirst(change.label))}</span>: <del>{esc(change.old)}</del> → "
        f"<ins>{esc(change.new)}</ins></li>\n            "
        for change in entry.changes
    )
    return f"{_LIST_OPEN}{items}{_LIST_CLOSE}"


def history_rows(entries: list[HistoryEntry]) -> SafeString:
    """The ``<tr>`` of each entry of the trail, as the template's loop wrote them."""
    esc = conditional_escape
    out = []
    for entry in entries:
        what = esc(capfirst(entry.object_type))
        if entry.object_type != "incident":
            what += f" #{entry.object_id}"
        what += f" {esc(entry.action)}"
        if entry.reason:
            what += f'<br><span class="muted small">{esc(entry.reason)}</span>'
        out.append(
            "\n      <tr>\n"
            f'        <td data-label="When">{time_element(entry.at)}</td>\n'
            f'        <td data-label="Who" class="history-user">{esc(entry.user or "system")}'
            "</td>\n"
            f'        <td data-label="What">{what}</td>\n'
            '        <td data-label="Changes">\n'
            f"{_changes(entry)}"
            "        </td>\n"
            "      </tr>\n    "
        )
    return mark_safe("".join(out))  # every value above escaped
