from datetime import timedelta

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from common.formatting import format_duration
from common.timezones import time_element

register = template.Library()


@register.filter
def duration(delta) -> str:
    """A timedelta as ``1h 05m``; empty for None."""
    return "" if delta is None else format_duration(delta)


@register.filter
def lasted(start, end=None) -> str:
    """How long from ``start`` to ``end`` (now while ``end`` is None), as ``2h 05m``:
    the lists' "Open for", as cheap per row as a subtraction (``timesince`` translated
    two units per row, a tenth of a 50-row page's rendering)."""
    from django.utils import timezone

    if start is None:
        return ""
    return format_duration(max((end or timezone.now()) - start, timedelta(0)))


@register.filter
def when(at) -> str:
    """A datetime as ``<time>`` in the reader's zone, UTC on hover; "—" for None."""
    return time_element(at)


NOBODY = mark_safe('<span class="muted">—</span>')


@register.filter
def person(user) -> str:
    """A person's full name (their username when they have none), the username on
    hover; "—" for nobody. A filter rather than an include: a timeline names dozens."""
    if not user:
        return NOBODY
    return person_named(user.get_username(), user.get_full_name())


def person_named(username: str | None, full_name: str = "") -> str:
    """``person`` for a row read as values (no user instance): ``full_name`` as
    ``get_full_name`` writes it; "—" when ``username`` is None."""
    if username is None:
        return NOBODY
    return format_html('<span class="person" title="{}">{}</span>', username, full_name or username)


@register.filter
def when_seconds(at) -> str:
    """``when`` with seconds (audit trails)."""
    return time_element(at, seconds=True)
