"""Mail-server sessions: one connection for many messages, each with a total deadline.

A batch of subscriber email used to open one SMTP connection per message
(connect, EHLO, maybe STARTTLS and AUTH, one message, QUIT). A ``Session`` keeps
one connection open for the messages one send thread delivers in a batch;
``Sessions`` hands each thread its own and closes them all when the batch ends.

Every message is bounded twice: each socket operation by the backend's timeout
(``mail_server.connection``: at most ``KEEL_OUTBOUND_TIMEOUT_SECONDS``), and the whole
message by
``KEEL_OUTBOUND_DEADLINE_SECONDS``, counted from before connecting: when it
passes, the socket is shut down (``common.outbound``'s deadline) and the waiting
call fails, so a server that trickles its answers cannot hold a worker (while
the connection is being made, before there is a socket to shut, the
per-operation timeout bounds each step, and an expired deadline then fails the
message at once). After any failure the session closes
its connection, and the next message starts a clean one. A connection the server
dropped while it sat idle between two messages is reconnected once.

With a backend that holds no socket (the file or in-memory backends of
development and tests) a session is just that backend, opened once.
"""

import contextlib
import smtplib
import threading

from django.conf import settings

from common.outbound import DeadlineExceeded
from common.outbound import _Deadline as Deadline
from notifications.channels import mail_server


class Session:
    """One mail-server connection, used by one thread at a time."""

    def __init__(self):
        # Read once per session: a batch's messages cost no query each.
        self.server = mail_server.stored_server()
        self.from_email = mail_server.from_address(self.server)
        self.backend = mail_server.connection(self.server)
        self.delivered = 0  # messages sent over the current connection
        self.connections = 0  # connections opened (tests and the benchmark read it)

    def deliver(self, message) -> None:
        """Send ``message`` (a Django ``EmailMessage``) within the total deadline;
        raise what the backend raised (``DeadlineExceeded`` once the deadline
        passed)."""
        reused = self.delivered > 0
        try:
            self._deliver(message)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed the connection while it sat idle between two
            # messages: nothing of this one was accepted. One fresh connection.
            self._deliver(message)

    def _deliver(self, message) -> None:
        deadline = Deadline(settings.KEEL_OUTBOUND_DEADLINE_SECONDS)
        try:
            if self.backend.open():
                self.connections += 1
            smtp = getattr(self.backend, "connection", None)
            if smtp is not None:
                deadline.watch(smtp)
            if not self.backend.send_messages([message]):
                raise smtplib.SMTPException("The mail backend sent nothing.")
            self.delivered += 1
        except BaseException as exc:
            self.close()
            if deadline.expired:
                raise DeadlineExceeded(
                    f"no complete answer from the mail server within "
                    f"{settings.KEEL_OUTBOUND_DEADLINE_SECONDS:g} s (total deadline)"
                ) from exc
            raise
        finally:
            deadline.cancel()

    def close(self) -> None:
        self.delivered = 0
        with contextlib.suppress(Exception):  # closing a broken connection may fail too
            self.backend.close()


class Sessions:
    """A ``Session`` per thread, for the sends of one batch; ``close`` ends them all."""

    def __init__(self):
        self._by_thread: dict[int, Session] = {}
        self._lock = threading.Lock()

    def current(self) -> Session:
        """This thread's session. A pool's thread ids may be reused by the next pool
        of the same batch, after the first thread finished: never two at once."""
        ident = threading.get_ident()
        with self._lock:
            session = self._by_thread.get(ident)
            if session is None:
                session = self._by_thread[ident] = Session()
            return session

    def connections(self) -> int:
        with self._lock:
            return sum(session.connections for session in self._by_thread.values())

    def close(self) -> None:
        with self._lock:
            sessions = list(self._by_thread.values())
        for session in sessions:
            session.close()
