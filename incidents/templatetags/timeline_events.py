"""The incident timeline's events, written in Python: ``{% timeline_event_items %}``.

The page shows the latest 50 events (and "Show older" 50 more at a time); as a
template loop, resolving each event's dozen variables, filters and branches was the
largest share of the page's rendering. Here every value is escaped as the template
escaped it (``html.escape``, which ``django.utils.html.escape`` is, ``linebreaksbr``,
the ``when`` and ``person`` filters); the markup, whitespace included, is the loop's. The template
``incidents/partials/timeline_events.html`` keeps what it writes once ("Show older").
"""

from html import escape

from django import template
from django.template.defaultfilters import capfirst, linebreaksbr
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from common.templatetags.keel import person, when
from incidents.models import TimelineEvent
from incidents.templatetags.note_controls import note_controls

# ``get_kind_display()`` and ``get_source_display()`` as dictionaries: Django's rebuilds
# a hashable copy of the field's choices on every call, twice per event. An unknown
# value reads as itself, as there.
_KINDS = {kind: str(label) for kind, label in TimelineEvent.Kind.choices}
_SOURCES = {source: str(label) for source, label in TimelineEvent.Source.choices}

register = template.Library()

_EMPTY = '\n      <li class="muted">Nothing yet.</li>\n    '

_MOVED = (
    '\n            <p><span class="stage-word">{}</span> → <span class="stage-word">{}</span></p>'
    "\n          "
)
_SKIPPED = (
    '\n            <p><span class="stage-word">{}</span> → <span class="stage-word">{}</span>'
    '\n              <span class="skipped">skipped {}</span></p>\n          '
)
_REOPENED = (
    '\n            <p><span class="stage-word">{}</span> ↩ <span class="stage-word">{}</span>'
    " — the recovery regressed</p>\n          "
)
_DUPLICATE_OF = '\n            <p>Duplicate of <a href="{}">#{}</a></p>\n          '
_SLACK_AUTHOR = '\n            <p class="muted small">{} wrote in Slack:</p>\n          '
_DUPLICATE_LINKED = (
    '\n            <p><a href="{}">#{}</a> is a duplicate of this incident</p>\n          '
)


def _data(data, key):
    """``event.data.<key>`` as the template resolved it: "" when missing."""
    try:
        return data[key]
    except (KeyError, TypeError, IndexError):
        return ""


def _text(value) -> str:
    """``{{ value }}``: escaped as ``django.utils.html.escape`` does (the values are
    the rows' own, never marked safe; None reads "None", as the template wrote it)."""
    return escape(str(value))


def _cap(value) -> str:
    """``{{ value|capfirst }}``."""
    return escape(capfirst(value))


class _Writer:
    """Writes the events of one render; what every event shares is worked out once."""

    def __init__(self, context):
        self.context = context
        self.incident = context.get("incident")
        self.can_edit_notes = context.get("can_edit_notes")
        self._history_url = None
        self._people: dict = {}

    def person(self, user) -> str:
        """``{{ user|person }}``, written once per person: fifty events name a few."""
        if user is None:
            return person(user)
        if user.pk not in self._people:
            self._people[user.pk] = person(user)
        return self._people[user.pk]

    def history_url(self) -> str:
        if self._history_url is None:
            self._history_url = _text(reverse("incidents:history", args=[self.incident.pk]))
        return self._history_url

    def body(self, event, kind: str, data) -> str:
        """The kind's own line (stage moves, duplicates, the Slack author), or ""."""
        if kind == "stage_moved":
            return _MOVED.format(_cap(_data(data, "from")), _cap(_data(data, "to")))
        if kind == "stage_skipped":
            skipped = _data(data, "skipped") or ()
            return _SKIPPED.format(
                _cap(_data(data, "from")),
                _cap(_data(data, "to")),
                ", ".join(_cap(stage) for stage in skipped),
            )
        if kind == "reopened":
            return _REOPENED.format(_cap(_data(data, "from")), _cap(_data(data, "to")))
        if kind == "closed" and (duplicate := _data(data, "duplicate_of")):
            url = reverse("incidents:detail", args=[duplicate])
            return _DUPLICATE_OF.format(_text(url), _text(duplicate))
        if kind == "slack_message":
            return _SLACK_AUTHOR.format(_text(_data(data, "author")))
        if kind == "duplicate_linked":
            duplicate = _data(data, "duplicate")
            url = reverse("incidents:detail", args=[duplicate])
            return _DUPLICATE_LINKED.format(_text(url), _text(duplicate))
        return ""

    def revision(self, event, kind: str) -> str:
        """Who edited or struck the event, and when, or ""."""
        pk = event.pk
        if kind == "slack_message" and event.struck_at:
            return (
                f'\n            <p class="event-revision" id="struck-{pk}">'
                f"{_text(event.struck_reason)} {when(event.struck_at)}</p>\n          "
            )
        if kind == "slack_message" and event.edited_at:
            return (
                f'\n            <p class="event-revision">Edited in Slack {when(event.edited_at)}'
                f' · <a href="{self.history_url()}">earlier text in the history</a></p>'
                "\n          "
            )
        if event.struck_at:
            reason = f" — {_text(event.struck_reason)}" if event.struck_reason else ""
            return (
                f'\n            <p class="event-revision" id="struck-{pk}">Struck through by '
                f"{self.person(event.struck_by)} {when(event.struck_at)}{reason}</p>\n          "
            )
        if event.edited_at:
            return (
                f'\n            <p class="event-revision">Edited by {self.person(event.edited_by)} '
                f'{when(event.edited_at)} · <a href="{self.history_url()}">earlier text in the '
                "history</a></p>\n          "
            )
        return ""

    def event(self, event) -> str:
        kind = event.kind
        pk = event.pk
        struck = event.struck_at
        data = event.data
        kind_html = _text(kind)
        via = (
            f'<span class="tag">via {_text(_SOURCES.get(event.source, event.source))}</span>'
            if event.source != "web"
            else ""
        )
        text = ""
        if event.text:
            described = f' aria-describedby="struck-{pk}"' if struck else ""
            lines = linebreaksbr(event.text, autoescape=True)
            if struck:
                lines = f"<del>{lines}</del>"
            text = f'<div class="prose"{described}>{lines}</div>'
        controls = ""
        if self.can_edit_notes and kind == "note" and not struck:
            written = note_controls(self.context, self.incident, event)
            controls = f"\n            {written}\n          "
        return (
            f'\n      <li data-live-item class="event event-{kind_html}'
            f'{" event-struck" if struck else ""}" data-kind="{kind_html}" id="event-{pk}">'
            f'\n        <div class="event-meta">'
            f"\n          {when(event.occurred_at)}"
            f'\n          <span class="event-kind">{_text(_KINDS.get(kind, kind))}</span>'
            f"\n          {self.person(event.actor)}"
            f"\n          {via}"
            f'\n        </div>\n        <div class="event-body">'
            f"\n          {self.body(event, kind, data)}"
            f"\n          {text}"
            f"\n          {self.revision(event, kind)}"
            f"\n          {controls}"
            "\n        </div>\n      </li>\n    "
        )


@register.simple_tag(takes_context=True)
def timeline_event_items(context) -> SafeString:
    """The ``<li>`` of every event of ``timeline`` (newest first), or "Nothing yet."."""
    events = context.get("timeline") or ()
    if not events:
        return mark_safe(_EMPTY)
    writer = _Writer(context)
    # Every part above was escaped (or written from escaped parts) where it was made.
    return mark_safe("".join(writer.event(event) for event in events))
