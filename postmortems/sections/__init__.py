"""Section kinds: the shape of each kind's content, validated with caps.

Each kind is a class in ``kinds`` (its fields, checks, pre-fill, storage, export);
each field type a class in ``fields``; caps and parsers are in ``values``.
``validate`` turns untrusted input (API JSON or the editor's form) into normalised
content or raises ``InvalidInput`` naming the place at fault as the user sees it.
"""

import re
from typing import Any

from common.exceptions import InvalidInput
from postmortems.models import SectionKind
from postmortems.sections.fields import Field
from postmortems.sections.kinds import SPECS, KindSpec
from postmortems.sections.values import (  # noqa: F401  (the package's public caps and parsers)
    CONTENT_JSON_MAX,
    LINE_MAX,
    MARKDOWN_MAX,
    MAX_ACTION_ITEMS,
    MAX_REMEDIATIONS,
    MAX_SERIES_POINTS,
    MAX_TIMELINE_ENTRIES,
    NUMBER_ABS_MAX,
    SectionInputError,
    iso,
    parse_series_csv,
    parse_when,
)

__all__ = ["SPECS", "Field", "KindSpec", "empty", "label_of", "of_kind", "spec_of", "validate"]

_PATH_PART = re.compile(r"\.(\w+)|\[(\d+)\]")


def spec_of(kind: str) -> KindSpec:
    return SPECS[kind]


def of_kind(sections, kind: str) -> list:
    """The sections of one kind among ``sections`` (prefetched rows)."""
    return [section for section in sections if section.kind == kind]


def label_of(path: str, *, key: str, label: str, kind: str) -> str:
    """``action_items.rows[0].owner`` → ``Action items, row 1, Owner``: the section as
    titled in the editor, the row counted from 1, the field by its label."""
    spec = SPECS.get(kind)
    words, last = [label], None
    for name, index in _PATH_PART.findall(path[len(key) :] if path.startswith(key) else ""):
        if index:
            noun = "row" if last is None else "point" if last.type == "series" else "line"
            words.append(f"{noun} {int(index) + 1}")
        elif name != "rows":
            last = spec.field_named(name) if spec else None
            words.append(last.label if last else name.replace("_", " "))
    return ", ".join(words)


def validate(kind: str, content: Any, *, key: str = "content", label: str = "") -> dict:
    """Normalised content for ``kind``, or ``InvalidInput`` whose message names the
    place at fault as the user sees it (``label``: the section's title) and whose
    ``field`` is its path in the JSON (``key.rows[0].owner``)."""
    label = label or (SectionKind(kind).label if kind in SectionKind.values else key)
    try:
        spec = SPECS.get(kind)
        if spec is None:
            raise SectionInputError(key, f"unknown section kind '{kind}'.")
        return spec.validate(content, key=key)
    except SectionInputError as exc:
        where = label_of(exc.path, key=key, label=label, kind=kind)
        raise InvalidInput(f"{where}: {exc.reason}", field=exc.path) from None


def empty(kind: str) -> dict:
    return SPECS[kind].empty()


def plain_text(content: dict) -> str:
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
