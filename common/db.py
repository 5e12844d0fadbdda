"""A client-side deadline on every PostgreSQL round trip, and what counts as "the
database is unavailable".

``statement_timeout`` is enforced by the server, ``connect_timeout`` only while
connecting, ``tcp_user_timeout`` and keepalives only when the peer stops
acknowledging. A peer that still acknowledges but never answers — a frozen
proxy or pooler, a stopped server process — would hold the caller forever (the
fault run measured 19 to 20 s per URL and gunicorn killing its workers). A
watchdog thread per process therefore looks at every open connection about
once a second; one that has been busy on the same round trip for longer than
``DB_CLIENT_DEADLINE_SECONDS`` gets its socket shut down, so the waiting call
fails with ``OperationalError`` (answered as a 503) instead of hanging.
"""

import logging
import os
import socket
import threading
import time
import weakref

from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# The errors a caller cannot fix by changing the request: the database is down, refused,
# frozen, timed out or restarting. IntegrityError and friends are not among them.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
SCAN_SECONDS = 0.5


def is_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, UNAVAILABLE_ERRORS)


class _Watchdog:
    def __init__(self) -> None:
        self.wrappers: weakref.WeakSet = weakref.WeakSet()
        # id(wrapper) → (id of the psycopg connection, round-trip counter, first seen busy)
        self.busy: dict[int, tuple[int, int, float]] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def watch(self, wrapper, deadline: float) -> None:
        with self.lock:
            wrapper.keel_deadline = deadline
            self.wrappers.add(wrapper)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                # After a fork (gunicorn, Celery's prefork pool) the parent's thread is gone.
                self.pid = os.getpid()
                self.busy = {}
                self.thread = threading.Thread(
                    target=self._run, name="keel-db-deadline", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(SCAN_SECONDS)
            try:
                self.scan(time.monotonic())
            except Exception:  # the watchdog must outlive any surprise; it guards the rest
                logger.exception("database deadline watchdog: scan failed")

    def scan(self, now: float) -> list:
        """Shut down connections busy on one round trip past the deadline; return them."""
        killed = []
        for wrapper in list(self.wrappers):
            pg = getattr(wrapper, "connection", None)
            key = id(wrapper)
            if pg is None or getattr(pg, "closed", True):
                self.busy.pop(key, None)
                continue
            try:
                active = int(pg.pgconn.transaction_status) == 1  # PQTRANS_ACTIVE
            except Exception:
                active = False
            if not active:
                self.busy.pop(key, None)
                continue
            marker = (id(pg), getattr(wrapper, "keel_round_trips", 0))
            seen = self.busy.get(key)
            if seen is None or seen[:2] != marker:
                self.busy[key] = (*marker, now)
                continue
            if now - seen[2] < getattr(wrapper, "keel_deadline", float("inf")):
                continue
            self.busy.pop(key, None)
            if _shutdown(pg):
                killed.append(wrapper)
                logger.warning(
                    "database %s: no answer for %.0f s on one round trip; connection closed",
                    wrapper.alias,
                    now - seen[2],
                )
        return killed


def _shutdown(pg) -> bool:
    """Shut the socket down under libpq: its wait wakes up and the call raises."""
    try:
        fd = pg.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
    except Exception:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return False
    finally:
        sock.close()


watchdog = _Watchdog()


def _count_round_trip(execute, sql, params, many, context):
    wrapper = context["connection"]
    wrapper.keel_round_trips = getattr(wrapper, "keel_round_trips", 0) + 1
    return execute(sql, params, many, context)


def on_connection_created(sender, connection, **kwargs) -> None:
    """``connection_created``: put a new PostgreSQL connection under the deadline."""
    from django.conf import settings

    deadline = getattr(settings, "DB_CLIENT_DEADLINE_SECONDS", 0)
    if connection.vendor != "postgresql" or not deadline:
        return
    if _count_round_trip not in connection.execute_wrappers:
        # Two queries in a row look alike to the watchdog; the counter tells them apart.
        connection.execute_wrappers.append(_count_round_trip)
    watchdog.watch(connection, float(deadline))
