"""Field types of section content, one class each: how a value is validated, what
an empty one is, how the editor posts it and draws it in a table row, how a table
shows it and how the Markdown export writes it.

``type`` names the type for the templates of scalar fields (a Markdown field gets
a preview, a long text a monospace box). Every value written into HTML goes
through ``escape``/``format_html``.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import QueryDict
from django.utils.dateparse import parse_date
from django.utils.html import escape, format_html

from common.exceptions import InvalidInput
from common.jsonguard import JSONInputError, parse_json
from postmortems.sections.values import (
    MAX_SERIES_POINTS,
    YEAR_MAX,
    YEAR_MIN,
    fail,
    iso,
    parse_number,
    parse_series_csv,
    parse_text,
    parse_when,
)

NOOPENER = "noopener noreferrer nofollow"
SERIES_FILE_MAX = 400_000


def _v(value) -> str:
    return "" if value is None else escape(value)


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


@dataclass(frozen=True)
class Field:
    """A one-line text; the other types override what differs."""

    name: str
    label: str
    max_length: int = 200
    required: bool = False
    choices: tuple = ()
    max_items: int = 0
    help: str = ""

    type: ClassVar[str] = "text"
    blank: ClassVar[Any] = ""
    # Where a table row shows it: a column, a full-width line under the row
    # ("wide"), or nowhere (a hidden input).
    placement: ClassVar[str] = "column"

    def clean(self, value: Any, path: str) -> Any:
        text = parse_text(value, self.max_length, path)
        if self.required and not text:
            fail(path, "required.")
        return text

    def empty(self) -> Any:
        return self.blank

    def from_post(self, post: QueryDict, name: str, **_context) -> Any:
        return post.get(name, "")

    def form_value(self, value: Any) -> Any:
        """The value as the editor's row input holds it."""
        return value

    @property
    def column_label(self) -> str:
        return self.label

    def cell_input(self, name: str, value: Any, *, row_index: int) -> str:
        label = escape(self.label)
        if self.max_length > 200:
            return (
                f'<textarea name="{name}" rows="2" aria-label="{label}" '
                f'maxlength="{self.max_length}">{_v(value)}</textarea>'
            )
        return (
            f'<input type="text" name="{name}" value="{_v(value)}" aria-label="{label}" '
            f'maxlength="{self.max_length}">'
        )

    def cell_display(self, value: Any) -> str:
        if value is None or value == "":
            return "—"
        return escape(value)

    def markdown(self, value: Any, *, alone: bool) -> list[str]:
        return [f"- **{self.label}:** {value}"]


class LongText(Field):
    """An excerpt of logs: kept verbatim, shown and exported in a monospace block."""

    type = "longtext"

    def markdown(self, value, *, alone):
        fence = "`" * max(3, _longest_backtick_run(value) + 1)
        return [f"**{self.label}**", "", fence, value, fence, ""]


class Markdown(Field):
    type = "markdown"

    def markdown(self, value, *, alone):
        return [value, ""] if alone else [f"**{self.label}**", "", value, ""]


class Number(Field):
    type = "number"
    blank = None

    def clean(self, value, path):
        return parse_number(value, path)

    def cell_input(self, name, value, *, row_index):
        return (
            f'<input type="text" inputmode="decimal" name="{name}" value="{_v(value)}" '
            f'aria-label="{escape(self.label)}" class="pm-num">'
        )


class DateTime(Field):
    type = "datetime"
    blank = None

    def clean(self, value, path):
        if value is None or value == "":
            if self.required:
                fail(path, "required.")
            return None
        return iso(parse_when(value, path))

    def form_value(self, value):
        """``2026-03-01T10:00:00Z`` → what ``datetime-local`` accepts (UTC)."""
        return str(value).replace("Z", "")[:19] if value else ""

    def cell_input(self, name, value, *, row_index):
        return (
            f'<input type="datetime-local" step="1" name="{name}" value="{_v(value)}" '
            f'aria-label="{escape(self.label)}">'
        )

    def cell_display(self, value):
        if not value:
            return "—"
        return escape(str(value)[:19].replace("T", " ") + " UTC")


class Date(Field):
    type = "date"
    blank = None

    def clean(self, value, path):
        if value is None or value == "":
            return None
        if isinstance(value, date):
            return value.isoformat()
        try:
            parsed = parse_date(value) if isinstance(value, str) and len(value) <= 10 else None
        except ValueError:  # well formed but not a day: 2024-02-30
            parsed = None
        if parsed is None:
            fail(path, "expected a date (YYYY-MM-DD).")
        if not YEAR_MIN <= parsed.year <= YEAR_MAX:
            fail(path, f"expected a year between {YEAR_MIN} and {YEAR_MAX}.")
        return parsed.isoformat()

    def cell_input(self, name, value, *, row_index):
        label = escape(self.label)
        return f'<input type="date" name="{name}" value="{_v(value)}" aria-label="{label}">'


class Url(Field):
    type = "url"

    def clean(self, value, path):
        text = parse_text(value, self.max_length, path)
        if text:
            try:
                URLValidator(schemes=["http", "https"])(text)
            except ValidationError:
                fail(path, "expected an http(s) URL.")
        return text

    def cell_input(self, name, value, *, row_index):
        return (
            f'<input type="url" name="{name}" value="{_v(value)}" '
            f'aria-label="{escape(self.label)}" maxlength="{self.max_length}">'
        )

    def cell_display(self, value):
        if not value:
            return "—"
        return format_html('<a href="{}" rel="{}">link</a>', value, NOOPENER)


class Bool(Field):
    type = "bool"
    blank = False

    def clean(self, value, path):
        if isinstance(value, str):
            return value.lower() in ("1", "true", "on", "yes")
        return bool(value)

    def from_post(self, post, name, **_context):
        return name in post

    def cell_input(self, name, value, *, row_index):
        checked = " checked" if value else ""
        return f'<input type="checkbox" name="{name}" aria-label="{escape(self.label)}"{checked}>'

    def cell_display(self, value):
        return "✓ yes" if value else "— no"


class OneOfRows(Bool):
    """The one row of a table that is chosen: a radio button shared by the rows,
    posted once as ``<name>=<row index>``."""

    def from_post(self, post, name, *, row_index: int = 0, **_context):
        return post.get(self.name) == str(row_index)

    def cell_input(self, name, value, *, row_index):
        checked = " checked" if value else ""
        return (
            f'<input type="radio" name="{self.name}" value="{row_index}" '
            f'aria-label="{escape(self.label)}"{checked}>'
        )


class Choice(Field):
    type = "choice"

    def clean(self, value, path):
        if value is None or value == "":
            return self.choices[0][0] if self.choices else ""
        allowed = [choice[0] for choice in self.choices]
        if not isinstance(value, str) or value not in allowed:
            fail(path, f"expected one of {', '.join(allowed)}.")
        return value

    def cell_input(self, name, value, *, row_index):
        options = "".join(
            f'<option value="{escape(v)}"{" selected" if v == value else ""}>'
            f"{escape(text)}</option>"
            for v, text in self.choices
        )
        return f'<select name="{name}" aria-label="{escape(self.label)}">{options}</select>'

    def cell_display(self, value):
        return escape(dict(self.choices).get(value, value or "—"))


class Choices(Field):
    """Several of a fixed list (failure patterns)."""

    type = "choices"

    def empty(self):
        return []

    def clean(self, value, path):
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail(path, "expected a list of strings.")
        allowed = {choice[0] for choice in self.choices}
        unknown = [v for v in value if v not in allowed]
        if unknown:
            fail(path, f"unknown value(s): {', '.join(map(str, unknown))}.")
        return list(dict.fromkeys(value))

    def from_post(self, post, name, **_context):
        return post.getlist(name)

    def markdown(self, value, *, alone):
        labels = dict(self.choices)
        return [f"**{self.label}:** " + ", ".join(labels.get(v, v) for v in value), ""]


class Lines(Field):
    """A numbered list typed one entry per line."""

    type = "lines"

    def empty(self):
        return []

    def clean(self, value, path):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = [line for line in value.splitlines() if line.strip()]
        if not isinstance(value, list):
            fail(path, "expected a list of strings.")
        if len(value) > self.max_items:
            fail(path, f"at most {self.max_items} entries.")
        lines = [parse_text(v, self.max_length, f"{path}[{i}]") for i, v in enumerate(value)]
        return [line for line in lines if line]

    def form_value(self, value):
        return "\n".join(value or [])

    def markdown(self, value, *, alone):
        return [
            f"**{self.label.split(' (')[0]}**",
            "",
            *(f"{i}. {line}" for i, line in enumerate(value, 1)),
            "",
        ]


class Series(Field):
    """A metric's points: pasted CSV or JSON, or an uploaded file. The editor never
    re-sends a saved series: a row keeps it unless new points come or *clear* is ticked."""

    type = "series"
    placement = "wide"

    def empty(self):
        return []

    def clean(self, value, path):
        if value is None or value == "" or value == []:
            return []
        if isinstance(value, str):
            if len(value) > MAX_SERIES_POINTS * 80:
                fail(path, "the series is too large.")
            if value.lstrip().startswith("["):
                try:
                    value = parse_json(value, depth=4)
                except JSONInputError:
                    fail(path, "expected a JSON list of [time, value] points.")
            else:
                value = parse_series_csv(value, path)
        if not isinstance(value, list):
            fail(path, "expected a list of [time, value] points or CSV text.")
        if len(value) > self.max_items:
            fail(path, f"at most {self.max_items} points per series.")
        points = []
        for i, point in enumerate(value):
            if isinstance(point, dict):
                point = [point.get("t", point.get("at")), point.get("v", point.get("value"))]
            if not isinstance(point, list | tuple) or len(point) != 2:
                fail(f"{path}[{i}]", "expected [time, value].")
            when = parse_when(point[0], f"{path}[{i}]")
            number = parse_number(point[1], f"{path}[{i}]")
            if number is None:
                fail(f"{path}[{i}]", "expected a number.")
            points.append([iso(when), number])
        points.sort(key=lambda p: p[0])
        return points

    def from_post(self, post, name, *, files=None, saved=None, path: str = "", **_context):
        upload = files.get(f"{name}_file") if files else None
        if upload is not None:
            # CSV or JSON from a file, parsed like pasted text.
            data = upload.read(SERIES_FILE_MAX + 1)
            if len(data) > SERIES_FILE_MAX:
                raise InvalidInput(
                    f"{path}: the file is over {SERIES_FILE_MAX // 1000} kB.", field=path
                )
            return data.decode("utf-8-sig", errors="replace")
        if f"{name}_clear" in post:
            return []
        pasted = post.get(name, "")
        return pasted if pasted.strip() else (saved or [])

    def form_value(self, value):
        return len(value or [])

    @property
    def column_label(self) -> str:
        return "Points"

    def cell_input(self, name, value, *, row_index):
        points = ""
        if value:
            points = (
                f'<p class="small pm-points">{int(value)} points <label class="small">'
                f'<input type="checkbox" name="{name}_clear"> clear</label></p>'
            )
        return (
            f'{points}<textarea name="{name}" rows="2" class="mono pm-csv" '
            f'aria-label="{escape(self.label)}" '
            f'placeholder="time,value&#10;2026-03-01T10:00:00Z,12.5"></textarea>'
            f'<input type="file" name="{name}_file" accept=".csv,.json,text/csv,application/json" '
            f'aria-label="{escape(self.label)}: upload a CSV or JSON file" class="pm-series-file">'
        )

    def cell_display(self, value):
        return str(len(value or []))


class Person(Field):
    """A user named by username or full name (resolved when the row is written)."""

    type = "user"

    def clean(self, value, path):
        return parse_text(value, self.max_length, path) or None

    def cell_input(self, name, value, *, row_index):
        return (
            f'<input type="text" list="pm-users" name="{name}" value="{_v(value)}" '
            f'aria-label="{escape(self.label)}" maxlength="150" autocomplete="off" '
            'placeholder="username or full name">'
        )


class RowId(Field):
    """The primary key of a row kept in a table of its own (a hidden input)."""

    type = "id"
    blank = None
    placement = "hidden"

    def clean(self, value, path):
        if value in (None, ""):
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            fail(path, "expected an id.")
        try:
            number = int(value)
        except ValueError:
            fail(path, "expected an id.")
        if number <= 0 or number >= 2**63:
            fail(path, "expected an id.")
        return number

    def cell_input(self, name, value, *, row_index):
        return f'<input type="hidden" name="{name}" value="{_v(value)}">'
