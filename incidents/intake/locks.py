"""Advisory locks for alert groups, one per key hash, held to the end of the transaction.

Every writer takes a group's lock before its row and before its incident's row, so the
receive path (one group, then its incident) and the hold check (its incident's groups,
in key order, then the incident) never wait on each other in a cycle. SQLite's write
transactions are serial already."""

from django.db import connection


def group_lock(key_hash: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key_hash])
