"""Formatting for the report tables and their charts."""

from django import template

from reports import charts
from reports.tables import minutes_display

register = template.Library()


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
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return f"{value:,}" if isinstance(value, int) else str(value)
    return str(value)


@register.simple_tag
def report_chart(table):
    kind = table.columns[table.chart_column].kind if table.chart_column is not None else "text"
    return charts.bar_chart(
        table.chart_points(),
        title=f"{table.title}: chart",
        display=lambda value: report_cell(value, kind),
    )


@register.simple_tag
def cells(row, columns):
    """The row's cells paired with their columns."""
    return list(zip(row, columns, strict=False))
