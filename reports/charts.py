"""Server-drawn SVG bar charts for the report tables: one horizontal bar per row,
labelled, with its value; no JavaScript. The numbers are in the table beside it."""

from collections.abc import Callable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 360
BAR_HEIGHT = 14
GAP = 6
LABEL_WIDTH = 150
VALUE_WIDTH = 56
MAX_BARS = 24


def _value(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def bar_chart(
    points: list[tuple[str, float]], *, title: str, display: Callable[[float], str] = _value
) -> SafeString:
    """Bars for ``points`` (label, value), the longest the largest value, each with its
    value as ``display`` writes it; at most ``MAX_BARS`` bars (the table has every row)."""
    points = points[:MAX_BARS]
    if not points:
        return mark_safe("")
    largest = max(value for _, value in points) or 1.0
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = len(points) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg class="report-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">'
    ]
    for index, (label, value) in enumerate(points):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = max(span * value / largest, 1 if value else 0)
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR_HEIGHT - 3}" text-anchor="end" '
            f'class="chart-label">{escape(short)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'class="chart-bar"><title>{escape(label)}: {escape(display(value))}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + BAR_HEIGHT - 3}" '
            f'class="chart-value">{escape(display(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
