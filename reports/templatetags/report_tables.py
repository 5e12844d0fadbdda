"""Formatting for the report tables and their charts."""

from django import template

from reports import charts

register = template.Library()


def minutes_display(minutes: float) -> str:
    if minutes < 1:
        return f"{round(minutes * 60)} s"
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(round(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{minutes / 1440:.1f} d"


@register.filter
def report_cell(value, kind: str) -> str:
    if value is None or value == "":
        return "—"
    if kind == "minutes":
        return minutes_display(float(value))
    if kind == "percent":
        return f"{value:g}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "count":
        return f"{value:,}" if isinstance(value, int) else str(value)
    return str(value)


@register.simple_tag
def report_chart(table):
    return charts.bar_chart(table.chart_points(), title=f"{table.title}: chart")


@register.simple_tag
def cells(row, columns):
    """The row's cells paired with their columns."""
    return list(zip(row, columns, strict=False))
