"""Keyset ("cursor") pagination and capped counts, for every list that can grow with
a company's history (issue 17).

A page is read in two steps: the page's primary keys (``size + 1`` rows walked
through an index that serves the order), then the rows themselves by primary key
with only the joins the page shows (``load``). Deep pages cost what
the first page costs: ``?cursor=`` says "after (or before) this row", never "skip N
rows". ``?page=N`` keeps working for existing clients (an OFFSET over the keys only).

The count is exact up to ``KEEL_LIST_COUNT_CAP`` and capped beyond it: it is
``SELECT count(*) FROM (SELECT id ... LIMIT cap + 1)``, so it reads at most
``cap + 1`` index entries however long the history is; the UI says "10,000+".

A cursor is opaque to clients: the ordering's values of one row, the direction and
the list's name, signed (``django.core.signing``), so a tampered or foreign cursor is
a 400 naming ``cursor`` rather than a query on arbitrary values. A cursor survives
inserts: rows added since the first page appear on the newer side, and paging on
shows every row once, without duplicates or gaps.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from common.exceptions import InvalidInput

CURSOR_MAX = 500  # characters: longer than any cursor Keel writes
_SALT = "keel.keyset.cursor"
NEXT = "n"
PREVIOUS = "p"


class InvalidCursor(InvalidInput):
    def __init__(self):
        super().__init__(
            "Invalid cursor: use a `next` or `previous` link as given.", field="cursor"
        )


@dataclass(frozen=True)
class Page:
    """One page of a list. ``count`` is exact unless ``count_capped`` (then it is
    the cap: there are more). ``number`` is set for ``?page=N`` requests only."""

    rows: list
    count: int
    count_capped: bool
    next_cursor: str | None
    previous_cursor: str | None
    number: int | None = None
    has_next: bool = False
    has_previous: bool = False

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.count_capped else f"{self.count:,}"


def capped_count(queryset: QuerySet, *, cap: int | None = None) -> tuple[int, bool]:
    """``(count, capped)``: the exact count, or ``(cap, True)`` when there are more."""
    cap = settings.KEEL_LIST_COUNT_CAP if cap is None else cap
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return (cap, True) if found > cap else (found, False)


def _field_name(key: str) -> str:
    return key.lstrip("-")


def _after(keys: Sequence[str], values: Sequence, *, forward: bool) -> Q:
    """Rows strictly after ``values`` in the order ``keys`` (``forward``), or strictly
    before it. Written as ``k1 <= v1 AND (k1 < v1 OR (k1 = v1 AND k2 < v2) ...)``
    (for a descending key): the leading bound lets PostgreSQL walk the index from the
    cursor instead of scanning the rows before it."""
    condition = Q()
    for position in range(len(keys) - 1, -1, -1):
        key = keys[position]
        descending = key.startswith("-")
        name = _field_name(key)
        lookup = "lt" if descending == forward else "gt"
        step = Q(**{f"{name}__{lookup}": values[position]})
        if position < len(keys) - 1:
            step |= Q(**{name: values[position]}) & condition
        condition = step
    first = keys[0]
    bound = "lte" if first.startswith("-") == forward else "gte"
    return Q(**{f"{_field_name(first)}__{bound}": values[0]}) & condition


def _reversed(keys: Sequence[str]) -> list[str]:
    return [key[1:] if key.startswith("-") else f"-{key}" for key in keys]


def _encode(name: str, direction: str, values: Sequence) -> str:
    return signing.dumps(
        {"l": name, "d": direction, "v": [str(value) for value in values]},
        salt=_SALT,
        compress=False,
    )


def cursor_after(name: str, values: Sequence) -> str:
    """The cursor of list ``name``'s page after the row whose keys are ``values``."""
    return _encode(name, NEXT, values)


def _decode(cursor: str, *, name: str, queryset: QuerySet, keys: Sequence[str]) -> tuple:
    if len(cursor) > CURSOR_MAX:
        raise InvalidCursor()
    try:
        payload = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature as exc:
        raise InvalidCursor() from exc
    if (
        not isinstance(payload, dict)
        or payload.get("l") != name
        or payload.get("d") not in (NEXT, PREVIOUS)
        or not isinstance(payload.get("v"), list)
        or len(payload["v"]) != len(keys)
    ):
        raise InvalidCursor()
    model = queryset.model
    values = []
    for key, raw in zip(keys, payload["v"], strict=True):
        name_ = _field_name(key)
        field = model._meta.pk if name_ == "pk" else model._meta.get_field(name_)
        try:
            values.append(field.to_python(raw))
        except (ValidationError, TypeError, ValueError) as exc:
            raise InvalidCursor() from exc
    return payload["d"], values


def _in_order(rows: list, keys: Sequence[str], *, backwards: bool) -> list:
    """``rows`` sorted as ``keys`` say (reversed for a page read backwards)."""
    for key in reversed(keys):
        name = _field_name(key)
        descending = key.startswith("-") != backwards
        rows.sort(key=attrgetter(name), reverse=descending)
    return rows


def _page_number(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 0
    return number


def _within(number: int, *, count: int, capped: bool, size: int, clamp: bool) -> int:
    """``number`` if such a page exists (past a capped count it may: the read says),
    else the nearest one (``clamp``) or ``Http404``."""
    last = None if capped else max(1, -(-count // size))
    if number >= 1 and (last is None or number <= last):
        return number
    if not clamp:
        raise Http404("Invalid page.")
    return 1 if number < 1 else last


def offset_paginate(
    queryset: QuerySet, *, size: int, page: str | None = None, clamp_pages: bool = False
) -> Page:
    """Page ``page`` (from 1) of ``queryset`` in its own order, for orders no keyset
    serves (a ranked search, a nullable key): an OFFSET, with the same capped count
    and ``Page`` as ``paginate`` (numbered links, no cursors)."""
    count, capped = capped_count(queryset)
    number = _within(
        _page_number(page) or 1, count=count, capped=capped, size=size, clamp=clamp_pages
    )
    start = (number - 1) * size
    found = list(queryset[start : start + size + 1])
    if number > 1 and not found and not clamp_pages:
        raise Http404("Invalid page.")
    return Page(
        rows=found[:size],
        count=count,
        count_capped=capped,
        next_cursor=None,
        previous_cursor=None,
        number=number,
        has_next=len(found) > size,
        has_previous=number > 1,
    )


def paginate(
    queryset: QuerySet,
    *,
    name: str,
    keys: Sequence[str],
    size: int,
    load: Callable[[list], Iterable],
    cursor: str | None = None,
    page: str | None = None,
    clamp_pages: bool = False,
) -> Page:
    """One page of ``queryset`` in the order ``keys`` (non-null fields ending with a
    unique one, e.g. ``("-detected_at", "-pk")``); ``load(pks)`` returns the rows
    whose ``pk`` is in the list ``pks`` with their joins, in any order.
    ``cursor`` wins over ``page``. A ``page`` past the end is ``Http404`` unless
    ``clamp_pages`` (the UI: the nearest page, as ``Paginator.get_page`` does)."""
    fields = [_field_name(key) for key in keys]
    count, capped = capped_count(queryset)
    ordered = queryset.order_by(*keys)
    number = None
    direction = NEXT
    if cursor:
        direction, values = _decode(cursor, name=name, queryset=queryset, keys=keys)
        if direction == NEXT:
            window = ordered.filter(_after(keys, values, forward=True))
        else:
            window = queryset.order_by(*_reversed(keys)).filter(_after(keys, values, forward=False))
        window = window.values_list("pk", flat=True)[: size + 1]
    else:
        number = _page_number(page)
        if number is not None:
            number = _within(number, count=count, capped=capped, size=size, clamp=clamp_pages)
        start = ((number or 1) - 1) * size
        window = ordered.values_list("pk", flat=True)[start : start + size + 1]
    # Two queries: the page's keys (an index walk with a LIMIT), then the rows with the
    # joins the page shows, by primary key. As one query (``pk IN (subquery)``) the
    # planner may join a dozen tables onto every row before it applies the LIMIT: past
    # join_collapse_limit it keeps the joins in written order (1.3 s at 100,000 rows).
    pks = list(window)
    found = _in_order(list(load(pks)), keys, backwards=direction == PREVIOUS)
    if number is not None and number > 1 and not found and not clamp_pages:
        raise Http404("Invalid page.")
    more = len(found) > size
    found = found[:size]
    if direction == PREVIOUS:
        found.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, bool(cursor) or bool(number and number > 1)
    next_cursor = previous_cursor = None
    if found and has_next:
        next_cursor = _encode(name, NEXT, [getattr(found[-1], field) for field in fields])
    if found and has_previous:
        previous_cursor = _encode(name, PREVIOUS, [getattr(found[0], field) for field in fields])
    return Page(
        rows=found,
        count=count,
        count_capped=capped,
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
        number=number,
        has_next=has_next,
        has_previous=has_previous,
    )


def first_page_url(request) -> str:
    """The request's address without ``cursor`` and ``page``: where a UI list sends
    a stale or mangled link (with a message saying why)."""
    kept = request.GET.copy()
    for name in ("cursor", "page"):
        kept.pop(name, None)
    return f"{request.path}?{kept.urlencode()}" if kept else request.path


def cursor_values(cursor: str, *, name: str, length: int) -> list[str]:
    """The ``length`` values a ``cursor_after(name, ...)`` cursor carries, as strings;
    ``InvalidCursor`` when it is not one (tampered, another list's, too long)."""
    if len(cursor) > CURSOR_MAX:
        raise InvalidCursor()
    try:
        payload = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature as exc:
        raise InvalidCursor() from exc
    if (
        not isinstance(payload, dict)
        or payload.get("l") != name
        or payload.get("d") != NEXT
        or not isinstance(payload.get("v"), list)
        or len(payload["v"]) != length
    ):
        raise InvalidCursor()
    return payload["v"]


def parse_values(raw: Sequence[str], parsers: Sequence[Callable[[str], object]]) -> list:
    """``raw`` cursor values through ``parsers`` (one per key); ``InvalidCursor`` when
    one does not parse."""
    try:
        return [parse(value) for parse, value in zip(parsers, raw, strict=True)]
    except (TypeError, ValueError, ValidationError) as exc:
        raise InvalidCursor() from exc


@dataclass(frozen=True)
class Slice:
    """One forward page of a bare-array list: its rows and the next page's cursor."""

    rows: list
    next_cursor: str | None


def forward_slice(
    queryset: QuerySet,
    *,
    name: str,
    keys: Sequence[str],
    parsers: Sequence[Callable[[str], object]],
    size: int,
    cursor: str | None = None,
) -> Slice:
    """Up to ``size`` rows of ``queryset`` in the order ``keys`` (ascending, ending with
    a unique one; ``a__b`` follows a relation the queryset selects), after ``cursor``:
    one query, ``size + 1`` rows. ``parsers`` turn the cursor's strings back into the
    keys' values."""
    ordered = queryset.order_by(*keys)
    if cursor:
        raw = cursor_values(cursor, name=name, length=len(keys))
        ordered = ordered.filter(_after(keys, parse_values(raw, parsers), forward=True))
    rows = list(ordered[: size + 1])
    if len(rows) <= size:
        return Slice(rows=rows, next_cursor=None)
    rows = rows[:size]
    getters = [attrgetter(_field_name(key).replace("__", ".")) for key in keys]
    return Slice(rows=rows, next_cursor=cursor_after(name, [get(rows[-1]) for get in getters]))


def next_link(request, cursor: str | None) -> dict[str, str]:
    """The ``Link: <...>; rel="next"`` header (RFC 8288) of a bare-array page, or none:
    the request's own address with ``cursor`` set."""
    if cursor is None:
        return {}
    query = request.GET.copy()
    query["cursor"] = cursor
    return {"Link": f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'}
