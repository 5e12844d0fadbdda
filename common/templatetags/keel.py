from django import template

from common.formatting import format_duration

register = template.Library()


@register.filter
def duration(delta) -> str:
    """A timedelta as ``1h 05m``; empty for None."""
    return "" if delta is None else format_duration(delta)
