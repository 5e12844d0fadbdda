"""A real SMTP server (aiosmtpd) on a spare local port, with AUTH that refuses
until told to accept: what a mail provider does after a password rotation.

``connections_tried_auth`` counts SMTP connections that attempted to log in
(smtplib tries several mechanisms on one connection: one connection is one send);
``messages`` keeps every message accepted, duplicates included."""

import email
import logging
import socket
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "keel"
PASSWORD = "s3cret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.accept_logins = False
        self.connections_tried_auth: set[tuple] = set()
        self.messages: list[email.message.Message] = []
        self.lock = threading.Lock()
        self.port = port or _free_port()
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                message = email.message_from_bytes(envelope.original_content or envelope.content)
                with server.lock:
                    server.messages.append(message)
                return "250 OK"

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            with server.lock:
                server.connections_tried_auth.add(session.peer)
            good = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == USERNAME
                and auth_data.password.decode() == PASSWORD
            )
            return AuthResult(success=server.accept_logins and good, handled=False)

        # Plain-text AUTH is what this local test server is for; aiosmtpd warns about it.
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
        )

    def settings(self) -> dict[str, str]:
        """The environment a Keel process needs to send through this server."""
        return {
            "KEEL_TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_HOST_USER": USERNAME,
            "EMAIL_HOST_PASSWORD": PASSWORD,
        }

    def apply(self, settings) -> None:
        """Point this process's Django settings at the server."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_HOST_USER = USERNAME
        settings.EMAIL_HOST_PASSWORD = PASSWORD
        settings.EMAIL_USE_TLS = False

    def recipients(self) -> list[str]:
        with self.lock:
            return [message["To"] for message in self.messages]

    def message_ids(self) -> list[str]:
        with self.lock:
            return [message["Message-ID"] for message in self.messages]

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
