"""When a metric series crossed its threshold, and what it read before, during and after.

Pure functions over the normalised series of the metrics section (``[[iso, number],
...]``, sorted by time). The quality check, the metrics section's save and the
action items' evidence all read a series through here, so "crossed" means one thing.

Which side is bad: an explicit ``direction`` ("above": values above the threshold
are bad, e.g. latency; "below": values below are bad, e.g. success rate). Without
one, the series' first point is taken as the normal state: a series that starts
under its threshold goes bad by rising above it, one that starts over it by
falling below it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

ABOVE = "above"
BELOW = "below"


def _at(value: str) -> datetime:
    return parse_datetime(value)


def bad_side(series: list[list], threshold: float, direction: str = "") -> str:
    """``above`` or ``below``: which side of ``threshold`` is the bad one."""
    if direction in (ABOVE, BELOW):
        return direction
    if not series:
        return ABOVE
    return ABOVE if series[0][1] <= threshold else BELOW


def is_bad(value: float, threshold: float, side: str) -> bool:
    return value > threshold if side == ABOVE else value < threshold


def crossings(series: list[list], threshold: float, direction: str = "") -> list[str]:
    """The time of every point where the series went from the good side to the bad side
    (the first point counts when it is already bad), oldest first."""
    side = bad_side(series, threshold, direction)
    times, was_bad = [], False
    for at, value in series:
        bad = is_bad(value, threshold, side)
        if bad and not was_bad:
            times.append(at)
        was_bad = bad
    return times


@dataclass(frozen=True)
class Reading:
    crossed_at: str | None  # the first crossing, None when it never crossed
    crossings: list[str]
    before: float | None  # the last value before impact began
    during: float | None  # the worst value while impact lasted
    after: float | None  # the last value after recovery


def read_series(
    series: list[list],
    threshold: float | None,
    *,
    impact_began: datetime | None = None,
    recovered: datetime | None = None,
    direction: str = "",
) -> Reading:
    """Crossings of ``threshold`` and the before/during/after values of ``series``
    around the incident's impact window (``impact_began`` to ``recovered``; an open
    end runs to the last point)."""
    side = bad_side(series, threshold, direction) if threshold is not None else ABOVE
    found = crossings(series, threshold, direction) if threshold is not None else []
    before = during = after = None
    window: list[float] = []
    for at, value in series:
        when = _at(at)
        if impact_began is not None and when < impact_began:
            before = value
        elif recovered is not None and when > recovered:
            after = value
        else:
            window.append(value)
    if window:
        during = max(window) if side == ABOVE else min(window)
    return Reading(
        crossed_at=found[0] if found else None,
        crossings=found,
        before=before,
        during=during,
        after=after,
    )


def metric_rows_fill(rows: list[dict], *, impact_began=None, recovered=None) -> list[dict]:
    """Fill each metrics row's empty *crossed at*, *before*, *during* and *after* from its
    series (what the author typed is kept). Returns the rows (changed in place)."""
    for row in rows:
        series = row.get("series") or []
        if not series:
            continue
        reading = read_series(
            series, row.get("threshold"), impact_began=impact_began, recovered=recovered
        )
        for name in ("crossed_at", "before", "during", "after"):
            if row.get(name) is None:
                row[name] = getattr(reading, name)
    return rows


def stayed_good(series: list[list], threshold: float, direction: str) -> bool:
    """Every point of ``series`` is on the good side of ``threshold`` (empty: no)."""
    return bool(series) and not any(is_bad(v, threshold, direction) for _, v in series)
