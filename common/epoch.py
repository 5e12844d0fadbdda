"""``EpochSeconds``: a datetime read as seconds since 1970-01-01 UTC, a plain float.

Reading thousands of timestamps as ``datetime`` objects is slow (Django's
PostgreSQL loader and SQLite's converter are Python, one object per value); code
that only subtracts and compares times (the reports) asks the database for numbers
instead. NULL stays NULL.

* PostgreSQL: ``EXTRACT(EPOCH FROM x)`` (exact to the microsecond), as a double;
* SQLite: from ``julianday(x)`` (Django stores UTC text), rounded to the
  millisecond, SQLite's own resolution, so whole seconds come out exact.
"""

from django.db.models import FloatField, Func


class EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)",
            **extra_context,
        )
