"""Where a forward-only page of a long list sits (a page of ``keyset.forward_slice``,
of the incident history), for the page's words ("changes 101 to 200 of 300") and its
plain links ("Next 100 changes →", "Back to the start"), issue 17.

The cursor says which rows a page shows; ``?start=`` only what to call them (the
position of the page's first row, carried by the "Next" link): a link edited by hand
may misname the rows, never show other ones. The two are read from the query string,
or from a form's body: a region that HTMX swaps after an action posts them back
(``hx_vals``), so the reader stays on their page.
"""

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest

CURSOR = "cursor"
START = "start"
_START_DIGITS = 9


def requested(request: HttpRequest) -> tuple[str | None, int | None]:
    """``(cursor, start)`` the request asks for; ``start`` is None when not given or
    not a position, and 1 without a cursor (the first page)."""
    cursor = request.GET.get(CURSOR) or request.POST.get(CURSOR) or None
    if cursor is None:
        return None, 1
    raw = request.GET.get(START) or request.POST.get(START) or ""
    if raw.isascii() and raw.isdigit() and len(raw) <= _START_DIGITS and int(raw) >= 1:
        return cursor, int(raw)
    return cursor, None


@dataclass(frozen=True)
class Position:
    """A page of ``shown`` rows of at most ``size`` at ``url``, its first row the
    ``start``-th (None: unknown), continued by ``next_cursor`` (None: the last page).
    ``total``: every row, when counted (``capped``: at least that many)."""

    url: str
    cursor: str | None
    start: int | None
    shown: int
    size: int
    next_cursor: str | None
    total: int | None = None
    capped: bool = False

    @property
    def continued(self) -> bool:
        """A page after the first."""
        return self.cursor is not None

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + self.shown - 1

    @property
    def range_label(self) -> str:
        """The rows' positions, "101" en dash "200"; "" when the start is unknown."""
        return "" if self.start is None else f"{self.start:,}\N{EN DASH}{self.end:,}"

    @property
    def total_label(self) -> str:
        """ "300", "10,000+"; uncounted, what the pages read so far say ("200+" while
        there are more); "" when nothing is known."""
        if self.total is not None:
            return f"{self.total:,}+" if self.capped else f"{self.total:,}"
        if self.end is None:
            return ""
        return f"{self.end:,}+" if self.next_cursor else f"{self.end:,}"

    @property
    def whole(self) -> bool:
        """The first page is the only one: every row is on it."""
        return not self.continued and self.next_cursor is None

    @property
    def next_url(self) -> str | None:
        if self.next_cursor is None:
            return None
        query = {CURSOR: self.next_cursor}
        if self.end is not None:
            query[START] = str(self.end + 1)
        return f"{self.url}?{urlencode(query)}"

    @property
    def hx_vals(self) -> str:
        """What a swapped region's actions post back to render this page again (JSON for
        ``hx-vals``); "" on the first page."""
        if self.cursor is None:
            return ""
        vals = {CURSOR: self.cursor}
        if self.start is not None:
            vals[START] = str(self.start)
        return json.dumps(vals)
