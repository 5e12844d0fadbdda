"""The caps every section obeys and the parsers of its untrusted values.

Every text has a maximum length and every list a maximum count (seed 003: an
oversized entity once OOM-killed the servers). A parser that refuses raises
``SectionInputError`` with the JSON path at fault; ``sections.validate`` rewords it
with the labels the user sees.
"""

import math
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from common.exceptions import InvalidInput
from common.validators import multi_line

MARKDOWN_MAX = 20_000
EXCERPT_MAX = 20_000
LINE_MAX = 1_000
MAX_METRIC_ROWS = 50
MAX_SERIES_POINTS = 5_000
MAX_TIMELINE_ENTRIES = 1_000
MAX_ROWS = 50
MAX_CHECKLIST = 100
MAX_REMEDIATIONS = 20
MAX_ACTION_ITEMS = 100
MAX_RECURRENCES = 10
MAX_LINES = 30
CONTENT_JSON_MAX = 1_500_000  # bytes of one section's JSON
NUMBER_ABS_MAX = 1e15
# Dates outside these years are typing errors, and at the edges of Python's range
# (0001, 9999) converting them to UTC overflows.
YEAR_MIN, YEAR_MAX = 1970, 2999


class SectionInputError(InvalidInput):
    """Bad input at ``path`` (``metrics.rows[0].series[3]``); ``validate`` rewords it
    with the labels the user sees before it leaves the package."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}", field=path)
        self.path = path
        self.reason = reason


def fail(path: str, message: str):
    raise SectionInputError(path, message)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_when(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= 64:
        text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
    else:
        parsed = None
    if parsed is None:
        fail(path, "expected an ISO 8601 date and time.")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
    return parsed


def parse_number(value: Any, path: str) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        fail(path, "expected a number.")
    if isinstance(value, str):
        if len(value) > 40:
            fail(path, "expected a number.")
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            fail(path, "expected a number.")
    if (
        not isinstance(value, int | float)
        or not math.isfinite(value)
        or abs(value) > NUMBER_ABS_MAX
    ):
        fail(path, "expected a finite number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def parse_text(value: Any, max_length: int, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        fail(path, "expected text.")
    try:
        multi_line(value)  # NUL, lone surrogates, control characters
    except ValidationError as exc:
        fail(path, exc.messages[0])
    value = value.replace("\r\n", "\n").strip()
    if len(value) > max_length:
        fail(path, f"at most {max_length} characters.")
    return value


def parse_series_csv(text: str, path: str = "series") -> list[list]:
    """``timestamp,value`` lines (a header line is skipped) → ``[[iso, number], ...]``."""
    points = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [part.strip() for part in line.replace(";", ",").replace("\t", ",").split(",")]
        if len(parts) != 2:
            fail(path, f"line {number}: expected 'timestamp,value'.")
        if number == 1 and not parts[0][:1].isdigit():
            continue  # a header
        points.append(parts)
        if len(points) > MAX_SERIES_POINTS:
            fail(path, f"at most {MAX_SERIES_POINTS} points per series.")
    return points
