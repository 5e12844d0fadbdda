"""Server-rendered SVG charts for metric series: the line, the threshold as a dashed
line, and the incident window shaded. No JavaScript and no CDN; readable in print.

Long series are reduced to at most ``MAX_DRAWN`` points by keeping each bucket's
minimum and maximum, so spikes survive and the page stays small.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 200
PAD_LEFT = 48
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28
MAX_DRAWN = 400


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def _parse(points: list) -> list[tuple[float, float]]:
    parsed = []
    for when, value in points:
        try:
            parsed.append((datetime.fromisoformat(when).timestamp(), float(value)))
        except (TypeError, ValueError):
            continue
    return parsed


def _reduce(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_DRAWN:
        return points
    buckets = MAX_DRAWN // 2
    size = len(points) / buckets
    reduced = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        reduced += sorted({low, high})
    return reduced


def _fmt(value: float) -> str:
    if abs(value) >= 1000 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def series_svg(
    *,
    points: list,
    name: str,
    unit: str = "",
    threshold: float | None = None,
    window: Window | None = None,
) -> SafeString:
    """An accessible SVG line chart (role="img" with a text description)."""
    data = _parse(points)
    if len(data) < 2:
        return mark_safe("")
    data = _reduce(data)
    xs = [p[0] for p in data]
    ys = [p[1] for p in data]
    x0, x1 = min(xs), max(xs)
    if window is not None:
        x0 = min(x0, window.start.timestamp())
        x1 = max(x1, window.end.timestamp())
    y0, y1 = min(ys), max(ys)
    if threshold is not None:
        y0, y1 = min(y0, threshold), max(y1, threshold)
    y0 = min(y0, 0) if y0 >= 0 else y0
    if y1 == y0:
        y1 = y0 + 1
    y1 += (y1 - y0) * 0.05
    if x1 == x0:
        x1 = x0 + 1
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def sx(x: float) -> float:
        return PAD_LEFT + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return PAD_TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    label = escape(f"{name} ({unit})" if unit else name)
    parts = [
        f'<svg class="metric-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{label}: {len(points)} points" data-points="{len(points)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
    ]
    if window is not None:
        wx0, wx1 = sx(window.start.timestamp()), sx(window.end.timestamp())
        parts.append(
            f'<rect class="chart-window" x="{wx0:.1f}" y="{PAD_TOP}" '
            f'width="{max(wx1 - wx0, 1):.1f}" '
            f'height="{plot_h}"><title>Incident window</title></rect>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" '
        f'x2="{PAD_LEFT + plot_w}" y2="{PAD_TOP + plot_h}"/>'
    )
    parts.append(
        f'<line class="chart-axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" '
        f'y2="{PAD_TOP + plot_h}"/>'
    )
    for value in (y0, (y0 + y1) / 2, y1):
        parts.append(
            f'<text class="chart-tick" x="{PAD_LEFT - 4}" y="{sy(value) + 4:.1f}" '
            f'text-anchor="end">{_fmt(value)}</text>'
        )
    start = datetime.fromtimestamp(x0, tz=UTC)
    end = datetime.fromtimestamp(x1, tz=UTC)
    parts.append(
        f'<text class="chart-tick" x="{PAD_LEFT}" y="{HEIGHT - 8}">{start:%m-%d %H:%M}</text>'
        f'<text class="chart-tick" x="{PAD_LEFT + plot_w}" y="{HEIGHT - 8}" '
        f'text-anchor="end">{end:%m-%d %H:%M} UTC</text>'
    )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in data)
    parts.append(f'<polyline class="chart-line" points="{path}"/>')
    if threshold is not None:
        ty = sy(threshold)
        parts.append(
            f'<line class="chart-threshold" x1="{PAD_LEFT}" y1="{ty:.1f}" '
            f'x2="{PAD_LEFT + plot_w}" y2="{ty:.1f}">'
            f"<title>Threshold {_fmt(threshold)}</title></line>"
            f'<text class="chart-threshold-label" x="{PAD_LEFT + plot_w - 2}" y="{ty - 4:.1f}" '
            f'text-anchor="end">threshold {escape(_fmt(threshold))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is a number or escaped
