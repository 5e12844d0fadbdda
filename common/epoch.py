"""``EpochSeconds``: a datetime read as seconds since 1970-01-01 UTC, a plain float.

Reading thousands of timestamps as ``datetime`` objects is slow (Django's
PostgreSQL loader and SQLite's converter are Python, one object per value); code
that only subtracts and compares times (the reports) asks the database for numbers
instead. NULL stays NULL. The database already returns a float, so no per-row
converter runs in Python.

* PostgreSQL: ``EXTRACT(EPOCH FROM x)`` (exact to the microsecond), as a double;
* SQLite: from ``julianday(x)`` (Django stores UTC text), rounded to the
  millisecond, SQLite's own resolution, so whole seconds come out exact.
"""

from bisect import bisect_right
from datetime import datetime, tzinfo

from django.db.models import FloatField, Func
from django.utils.functional import cached_property


class EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()

    @cached_property
    def convert_value(self):
        # Both databases return a float (or NULL): Django's float() per value is waste.
        return self._convert_value_noop

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)",
            **extra_context,
        )


def month_labeller(epochs: list[float], tz: tzinfo):
    """A function from epoch seconds to the local month ("2026-10") in ``tz``, for
    times between ``min(epochs)`` and ``max(epochs)``: it bisects the months' local
    starts (computed once) instead of building a ``datetime`` per value."""
    if not epochs:
        return lambda seconds: ""
    first = datetime.fromtimestamp(min(epochs), tz)
    last = datetime.fromtimestamp(max(epochs), tz)
    starts, labels = [], []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        starts.append(datetime(year, month, 1, tzinfo=tz).timestamp())
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def label(seconds: float) -> str:
        return labels[bisect_right(starts, seconds) - 1]

    return label
