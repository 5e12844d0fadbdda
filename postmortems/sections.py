"""Section kinds: the shape of each kind's JSON content, validated with caps.

Every kind is declared once as a ``KindSpec`` (its scalar fields and, for
tabular kinds, its row fields). ``validate`` turns untrusted input (API JSON or
the editor's form) into normalised content or raises ``InvalidInput`` naming
the path at fault; the editor renders its inputs from the same spec. Every text
has a maximum length and every list a maximum count (seed 003: an oversized
entity once OOM-killed the servers).
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from common.exceptions import InvalidInput
from common.jsonguard import JSONInputError, parse_json
from common.validators import multi_line
from incidents.models import FailurePattern
from postmortems.models import ActionItem, SectionKind

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

TREND_CHOICES = (
    ("up", "Rising"),
    ("down", "Falling"),
    ("flat", "Flat"),
    ("spiky", "Spiky"),
    ("unknown", "Unknown"),
)
CONNECTED_CHOICES = (("middleware", "Middleware"), ("application", "Connected application"))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"  # text, longtext, markdown, number, datetime, date, url, bool,
    # choice, lines, choices (multi), series, user, id
    max_length: int = 200
    choices: tuple = ()
    required: bool = False
    max_items: int = 0
    help: str = ""


@dataclass(frozen=True)
class KindSpec:
    kind: str
    fields: tuple[Field, ...] = ()
    row_fields: tuple[Field, ...] = ()
    max_rows: int = MAX_ROWS

    @property
    def tabular(self) -> bool:
        return bool(self.row_fields)


SPECS: dict[str, KindSpec] = {
    SectionKind.MARKDOWN: KindSpec(
        SectionKind.MARKDOWN, fields=(Field("text", "Text", "markdown", MARKDOWN_MAX),)
    ),
    SectionKind.TIMELINE: KindSpec(
        SectionKind.TIMELINE,
        row_fields=(
            Field("at", "When (UTC)", "datetime", required=True),
            Field("text", "What happened", "text", LINE_MAX, required=True),
            Field("kind", "Kind", "text", 32),
        ),
        max_rows=MAX_TIMELINE_ENTRIES,
    ),
    SectionKind.METRICS: KindSpec(
        SectionKind.METRICS,
        row_fields=(
            Field("name", "Metric", "text", 200, required=True),
            Field("unit", "Unit", "text", 50),
            Field("before", "Before", "number"),
            Field("during", "During", "number"),
            Field("after", "After", "number"),
            Field("threshold", "Threshold", "number"),
            Field("crossed_at", "Crossed at (UTC)", "datetime"),
            Field(
                "series",
                "Series (CSV: time,value)",
                "series",
                max_items=MAX_SERIES_POINTS,
                help="Paste CSV lines 'timestamp,value' (ISO 8601 time).",
            ),
        ),
        max_rows=MAX_METRIC_ROWS,
    ),
    SectionKind.THRESHOLDS: KindSpec(
        SectionKind.THRESHOLDS,
        row_fields=(
            Field("metric", "Metric", "text", 200, required=True),
            Field("unit", "Unit", "text", 50),
            Field("warning", "Warning at", "number"),
            Field("critical", "Critical at", "number"),
            Field("note", "Note", "text", LINE_MAX),
        ),
    ),
    SectionKind.LOG_WINDOW: KindSpec(
        SectionKind.LOG_WINDOW,
        fields=(
            Field("start", "Start (UTC)", "datetime"),
            Field("end", "End (UTC)", "datetime"),
            Field("link", "Link to the logs", "url", 500),
            Field("excerpt", "Excerpt", "longtext", EXCERPT_MAX),
        ),
    ),
    SectionKind.FAILURE_POINTS: KindSpec(
        SectionKind.FAILURE_POINTS,
        row_fields=(
            Field("component", "Component", "text", 200, required=True),
            Field("connection", "Connection to", "text", 200),
            Field("description", "What failed", "text", LINE_MAX),
            Field("observed_at", "Observed at (UTC)", "datetime"),
        ),
    ),
    SectionKind.MIDDLEWARE: KindSpec(
        SectionKind.MIDDLEWARE,
        row_fields=(
            Field("name", "Name", "text", 200, required=True),
            Field("type", "Type", "choice", 16, choices=CONNECTED_CHOICES),
            Field("trend", "Trend", "choice", 16, choices=TREND_CHOICES),
            Field("note", "Note", "text", LINE_MAX),
        ),
    ),
    SectionKind.REMEDIATIONS: KindSpec(
        SectionKind.REMEDIATIONS,
        row_fields=(
            Field("id", "id", "id"),
            Field("title", "Option", "text", 200, required=True),
            Field("description", "Description", "text", 2_000),
            Field("pros", "Pros", "text", 2_000),
            Field("cons", "Cons", "text", 2_000),
            Field("chosen", "Chosen", "bool"),
            Field("reason", "Why (required for the chosen one)", "text", 2_000),
        ),
        max_rows=MAX_REMEDIATIONS,
    ),
    SectionKind.ROOT_CAUSE: KindSpec(
        SectionKind.ROOT_CAUSE,
        fields=(
            Field("text", "Analysis", "markdown", MARKDOWN_MAX),
            Field(
                "contributing_factors",
                "Contributing factors (one per line)",
                "lines",
                LINE_MAX,
                max_items=MAX_LINES,
            ),
            Field(
                "failure_patterns",
                "Failure patterns",
                "choices",
                32,
                choices=tuple(FailurePattern.choices),
                max_items=len(FailurePattern.values),
            ),
            Field("five_whys", "Five whys (one per line)", "lines", LINE_MAX, max_items=10),
        ),
    ),
    SectionKind.ACTION_ITEMS: KindSpec(
        SectionKind.ACTION_ITEMS,
        row_fields=(
            Field("id", "id", "id"),
            Field("title", "Action", "text", 200, required=True),
            Field("term", "Term", "choice", 8, choices=tuple(ActionItem.Term.choices)),
            Field("kind", "Kind", "choice", 16, choices=tuple(ActionItem.Kind.choices)),
            Field("owner", "Owner", "user", 150),
            Field("due_date", "Due", "date"),
            Field("priority", "Priority", "choice", 2, choices=tuple(ActionItem.Priority.choices)),
            Field("status", "Status", "choice", 16, choices=tuple(ActionItem.Status.choices)),
            Field("tracker_url", "Tracker link", "url", 500),
        ),
        max_rows=MAX_ACTION_ITEMS,
    ),
    SectionKind.CHECKLIST: KindSpec(
        SectionKind.CHECKLIST,
        row_fields=(
            Field("text", "Item", "text", 500, required=True),
            Field("done", "Done", "bool"),
        ),
        max_rows=MAX_CHECKLIST,
    ),
    SectionKind.WENT_WELL: KindSpec(
        SectionKind.WENT_WELL,
        fields=(
            Field("went_well", "Went well", "markdown", 10_000),
            Field("went_badly", "Went badly", "markdown", 10_000),
            Field("got_lucky", "Got lucky", "markdown", 10_000),
        ),
    ),
    SectionKind.RECURRENCE: KindSpec(
        SectionKind.RECURRENCE,
        row_fields=(
            Field("incident", "Incident #", "id"),
            Field("title", "Past incident", "text", 200, required=True),
            Field("alike", "Alike in", "text", LINE_MAX),
            Field("remediation", "Chosen to fix it", "text", 2_000),
            Field("action_items", "Its action items", "text", 2_000),
            Field("why_again", "Why it came back", "text", 2_000),
        ),
        max_rows=MAX_RECURRENCES,
    ),
}

# Kinds whose rows live in tables of their own rather than in the section's JSON.
ROW_BACKED = {SectionKind.REMEDIATIONS, SectionKind.ACTION_ITEMS}


class SectionInputError(InvalidInput):
    """Bad input at ``path`` (``metrics.rows[0].series[3]``); ``validate`` rewords it
    with the labels the user sees before it leaves this module."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}", field=path)
        self.path = path
        self.reason = reason


def _fail(path: str, message: str):
    raise SectionInputError(path, message)


_PATH_PART = re.compile(r"\.(\w+)|\[(\d+)\]")


def label_of(path: str, *, key: str, label: str, kind: str) -> str:
    """``action_items.rows[0].owner`` → ``Action items, row 1, Owner``: the section as
    titled in the editor, the row counted from 1, the field by its label."""
    spec = SPECS.get(kind)
    fields = {f.name: f for f in (spec.fields + spec.row_fields)} if spec else {}
    words, last = [label], None
    for name, index in _PATH_PART.findall(path[len(key) :] if path.startswith(key) else ""):
        if index:
            noun = "row" if last is None else "point" if last.type == "series" else "line"
            words.append(f"{noun} {int(index) + 1}")
        elif name != "rows":
            last = fields.get(name)
            words.append(last.label if last else name.replace("_", " "))
    return ", ".join(words)


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
        _fail(path, "expected an ISO 8601 date and time.")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    if not YEAR_MIN <= parsed.year <= YEAR_MAX:
        _fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        _fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
    return parsed


def _number(value: Any, path: str) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        _fail(path, "expected a number.")
    if isinstance(value, str):
        if len(value) > 40:
            _fail(path, "expected a number.")
        try:
            value = float(value.strip().replace("_", ""))
        except ValueError:
            _fail(path, "expected a number.")
    if (
        not isinstance(value, int | float)
        or not math.isfinite(value)
        or abs(value) > NUMBER_ABS_MAX
    ):
        _fail(path, "expected a finite number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _text(value: Any, field: Field, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(path, "expected text.")
    try:
        multi_line(value)  # NUL, lone surrogates, control characters
    except ValidationError as exc:
        _fail(path, exc.messages[0])
    value = value.replace("\r\n", "\n").strip()
    if len(value) > field.max_length:
        _fail(path, f"at most {field.max_length} characters.")
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
            _fail(path, f"line {number}: expected 'timestamp,value'.")
        if number == 1 and not parts[0][:1].isdigit():
            continue  # a header
        points.append(parts)
        if len(points) > MAX_SERIES_POINTS:
            _fail(path, f"at most {MAX_SERIES_POINTS} points per series.")
    return points


def _series(value: Any, field: Field, path: str) -> list[list]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        if len(value) > MAX_SERIES_POINTS * 80:
            _fail(path, "the series is too large.")
        if value.lstrip().startswith("["):
            try:
                value = parse_json(value, depth=4)
            except JSONInputError:
                _fail(path, "expected a JSON list of [time, value] points.")
        else:
            value = parse_series_csv(value, path)
    if not isinstance(value, list):
        _fail(path, "expected a list of [time, value] points or CSV text.")
    if len(value) > field.max_items:
        _fail(path, f"at most {field.max_items} points per series.")
    points = []
    for i, point in enumerate(value):
        if isinstance(point, dict):
            point = [point.get("t", point.get("at")), point.get("v", point.get("value"))]
        if not isinstance(point, list | tuple) or len(point) != 2:
            _fail(f"{path}[{i}]", "expected [time, value].")
        when = parse_when(point[0], f"{path}[{i}]")
        number = _number(point[1], f"{path}[{i}]")
        if number is None:
            _fail(f"{path}[{i}]", "expected a number.")
        points.append([iso(when), number])
    points.sort(key=lambda p: p[0])
    return points


def _value(field: Field, value: Any, path: str) -> Any:
    kind = field.type
    if kind in ("text", "longtext", "markdown"):
        text = _text(value, field, path)
        if field.required and not text:
            _fail(path, "required.")
        return text
    if kind == "number":
        return _number(value, path)
    if kind == "datetime":
        if value is None or value == "":
            if field.required:
                _fail(path, "required.")
            return None
        return iso(parse_when(value, path))
    if kind == "date":
        if value is None or value == "":
            return None
        if isinstance(value, date):
            return value.isoformat()
        try:
            parsed = parse_date(value) if isinstance(value, str) and len(value) <= 10 else None
        except ValueError:  # well formed but not a day: 2024-02-30
            parsed = None
        if parsed is None:
            _fail(path, "expected a date (YYYY-MM-DD).")
        if not YEAR_MIN <= parsed.year <= YEAR_MAX:
            _fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
        return parsed.isoformat()
    if kind == "url":
        text = _text(value, field, path)
        if text:
            try:
                URLValidator(schemes=["http", "https"])(text)
            except ValidationError:
                _fail(path, "expected an http(s) URL.")
        return text
    if kind == "bool":
        if isinstance(value, str):
            return value.lower() in ("1", "true", "on", "yes")
        return bool(value)
    if kind == "choice":
        if value is None or value == "":
            return field.choices[0][0] if field.choices else ""
        allowed = [choice[0] for choice in field.choices]
        if not isinstance(value, str) or value not in allowed:
            _fail(path, f"expected one of {', '.join(allowed)}.")
        return value
    if kind == "choices":
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            _fail(path, "expected a list of strings.")
        allowed = {choice[0] for choice in field.choices}
        unknown = [v for v in value if v not in allowed]
        if unknown:
            _fail(path, f"unknown value(s): {', '.join(map(str, unknown))}.")
        return list(dict.fromkeys(value))
    if kind == "lines":
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = [line for line in value.splitlines() if line.strip()]
        if not isinstance(value, list):
            _fail(path, "expected a list of strings.")
        if len(value) > field.max_items:
            _fail(path, f"at most {field.max_items} entries.")
        lines = [_text(v, field, f"{path}[{i}]") for i, v in enumerate(value)]
        return [line for line in lines if line]
    if kind == "series":
        return _series(value, field, path)
    if kind == "user":
        text = _text(value, field, path)
        return text or None
    if kind == "id":
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            _fail(path, "expected an id.")
        try:
            number = int(value)
        except ValueError:
            _fail(path, "expected an id.")
        if number <= 0 or number >= 2**63:
            _fail(path, "expected an id.")
        return number
    raise AssertionError(f"unknown field type {kind}")


def _row_is_blank(row: dict, spec: KindSpec) -> bool:
    return all(
        row.get(f.name) in (None, "", [], False) for f in spec.row_fields if f.type != "choice"
    )


def validate(kind: str, content: Any, *, key: str = "content", label: str = "") -> dict:
    """Normalised content for ``kind``, or ``InvalidInput`` whose message names the
    place at fault as the user sees it (``label``: the section's title) and whose
    ``field`` is its path in the JSON (``key.rows[0].owner``)."""
    label = label or (SectionKind(kind).label if kind in SectionKind.values else key)
    try:
        return _validate(kind, content, key=key)
    except SectionInputError as exc:
        where = label_of(exc.path, key=key, label=label, kind=kind)
        raise InvalidInput(f"{where}: {exc.reason}", field=exc.path) from None


def _validate(kind: str, content: Any, *, key: str) -> dict:
    spec = SPECS.get(kind)
    if spec is None:
        _fail(key, f"unknown section kind '{kind}'.")
    if not isinstance(content, dict):
        _fail(key, "expected an object.")
    known = {f.name for f in spec.fields} | ({"rows"} if spec.tabular else set())
    unknown = sorted(set(content) - known)
    if unknown:
        _fail(key, f"unknown field(s) for a {kind} section: {', '.join(unknown)}.")
    result: dict = {}
    for field in spec.fields:
        result[field.name] = _value(field, content.get(field.name), f"{key}.{field.name}")
    if spec.tabular:
        rows = content.get("rows") or []
        if not isinstance(rows, list):
            _fail(f"{key}.rows", "expected a list.")
        if len(rows) > spec.max_rows:
            _fail(f"{key}.rows", f"at most {spec.max_rows} rows.")
        names = {f.name for f in spec.row_fields}
        clean_rows = []
        for i, row in enumerate(rows):
            path = f"{key}.rows[{i}]"
            if not isinstance(row, dict):
                _fail(path, "expected an object.")
            extra = sorted(set(row) - names)
            if extra:
                _fail(path, f"unknown field(s): {', '.join(extra)}.")
            if _row_is_blank(row, spec):
                continue
            clean_rows.append(
                {f.name: _value(f, row.get(f.name), f"{path}.{f.name}") for f in spec.row_fields}
            )
        result["rows"] = clean_rows
    window = kind == SectionKind.LOG_WINDOW and result["start"] and result["end"]
    if window and result["start"] > result["end"]:
        _fail(f"{key}.end", "the window must end after it starts.")
    if kind == SectionKind.REMEDIATIONS:
        chosen = [row for row in result["rows"] if row["chosen"]]
        if len(chosen) > 1:
            _fail(f"{key}.rows", "choose exactly one option.")
        if chosen and not chosen[0]["reason"]:
            _fail(f"{key}.rows", "say why the chosen one was chosen.")
    if len(json.dumps(result)) > CONTENT_JSON_MAX:
        _fail(key, "the section is too large.")
    return result


def empty(kind: str) -> dict:
    spec = SPECS[kind]
    content: dict = {}
    for field in spec.fields:
        content[field.name] = (
            []
            if field.type in ("lines", "choices", "series")
            else (None if field.type in ("number", "datetime", "date") else "")
        )
    if spec.tabular:
        content["rows"] = []
    return content


def plain_text(kind: str, content: dict) -> str:
    """Every human-written string of the content, for search."""
    parts: list[str] = []

    def collect(value):
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            for name, item in value.items():
                if name not in ("series", "at", "crossed_at", "observed_at", "due_date"):
                    collect(item)

    collect(content)
    return "\n".join(p for p in parts if p and not p[:4].isdigit())
