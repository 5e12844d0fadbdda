"""Every outbound HTTP request of Keel: resolved once, checked, pinned, bounded.

Checking an address and then letting ``urllib`` resolve the name again at connect
time is a DNS-rebinding hole: a name may answer a public address to the check and
127.0.0.1 to the connect. Here the name is resolved once, EVERY answer must be a
global address, and the socket connects to exactly the checked address while the
``Host`` header, TLS SNI and certificate verification keep the hostname.

A send also has a total deadline (``KEEL_OUTBOUND_DEADLINE_SECONDS``): per-socket
timeouts bound each read, not the sum, so a receiver trickling one byte a second
could otherwise hold a worker forever. When the deadline passes, the socket is
shut down and :class:`DeadlineExceeded` (a ``TimeoutError``) is raised.

Redirects are never followed, and environment proxies are ignored (a proxy would
connect to the name itself, undoing the pin).

Tests replace :data:`getaddrinfo` and :data:`create_connection` (module
attributes) to play a rebinding resolver or a public host; nothing else does.
"""

import contextlib
import functools
import ipaddress
import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import client as http_client
from urllib.parse import urlsplit

from django.conf import settings

getaddrinfo = socket.getaddrinfo
create_connection = socket.create_connection

# Refused even where Python's ``is_global`` says yes or where an address embeds
# another (translation and tunnelling prefixes reach whatever they embed).
_REFUSED_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network": 0.0.0.0 reaches the local host on Linux
        "100.64.0.0/10",  # carrier-grade NAT; 100.100.100.200 is a cloud metadata service
        "169.254.0.0/16",  # link-local, 169.254.169.254 metadata services
        "192.0.0.0/24",  # IETF protocol assignments (only 192.0.0.9 and .10 are global)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, 255.255.255.255 broadcast
        "::/96",  # IPv4-compatible IPv6 (deprecated) and ::, ::1
        "::ffff:0:0/96",  # IPv4-mapped IPv6
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use prefix
        "2001::/32",  # Teredo
        "2002::/16",  # 6to4: embeds any IPv4 address, private ones included
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
]

# Lookups run here so the deadline bounds them too (getaddrinfo has no timeout).
_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keel-resolve")


def _new_pool_after_fork() -> None:
    # A forked child (a prefork Celery worker) inherits the pool without its threads:
    # work submitted there would never run and every lookup would hit the deadline.
    global _resolver_pool
    _resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keel-resolve")


os.register_at_fork(after_in_child=_new_pool_after_fork)


class AddressRefused(ValueError):
    """The URL names or resolves to an address Keel does not send to: permanent."""


class DeadlineExceeded(TimeoutError):
    """The whole request (resolve, connect, TLS, send, response) took too long."""


def address_refusal(address) -> str:
    """Why this address is not a public destination, or "" when it is one."""
    address = ipaddress.ip_address(address)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return "a scoped (link-local) address"
    for network in _REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return f"in {network}"
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "not globally routable"
    return ""


def literal_address(hostname: str):
    """The address a literal host stands for, None for a DNS name.

    ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` are IPv4 literals to the C
    resolver (``inet_aton``) though not to ``ipaddress``: such forms raise
    AddressRefused outright, whatever they point at, since no legitimate
    receiver is written that way and they exist to slip past checks."""
    host = hostname.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        packed = socket.inet_aton(host)
    except (OSError, ValueError):
        return None
    raise AddressRefused(
        f"{hostname} is an unusual way of writing the IPv4 address "
        f"{socket.inet_ntoa(packed)}; write a host name or a dotted address."
    )


def check_literal(hostname: str, *, allow_private: bool) -> None:
    """Syntax-level check for request paths (no DNS): refuses non-public literals."""
    address = literal_address(hostname)
    if address is not None and not allow_private:
        reason = address_refusal(address)
        if reason:
            raise AddressRefused(f"{hostname} is {address}, a non-public address ({reason}).")


def resolve(hostname: str, port: int, *, allow_private: bool, timeout: float) -> str:
    """Resolve once; every answer must be public (unless allowed). Returns the pinned address.

    Raises AddressRefused (permanent) or OSError/DeadlineExceeded (transient)."""
    check_literal(hostname, allow_private=allow_private)
    future = _resolver_pool.submit(getaddrinfo, hostname, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.01))
    except FutureTimeout as exc:
        raise DeadlineExceeded(f"resolving {hostname} took longer than the deadline") from exc
    except UnicodeError as exc:
        raise AddressRefused(f"{hostname} is not a valid host name.") from exc
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not allow_private:
            reason = address_refusal(address)
            if reason:
                raise AddressRefused(
                    f"{hostname} resolves to {address}, a non-public address ({reason})."
                )
        addresses.append(str(address))
    if not addresses:
        raise OSError(f"{hostname} has no address")
    return addresses[0]


class _Deadline:
    """Shuts the request's sockets down when the total time is up."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self._connections: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise DeadlineExceeded("the outbound deadline passed")
        return left

    def watch(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
            expired = self.expired
        if expired:
            self._shutdown(connection)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            self._shutdown(connection)

    @staticmethod
    def _shutdown(connection) -> None:
        sock = connection.sock
        if sock is None:
            return
        # The plain socket method on purpose: SSLSocket.shutdown() would drop its
        # SSL object under the thread that is reading through it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _pinned_connection_class(base, *, address: str, deadline: _Deadline):
    class Pinned(base):
        """Connects to ``address`` whatever ``self.host`` says; Host and SNI stay the name."""

        def connect(self):
            timeout = min(self.timeout or deadline.remaining(), deadline.remaining())
            self.sock = create_connection((address, self.port), timeout, self.source_address)
            deadline.watch(self)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if isinstance(self, http_client.HTTPSConnection):
                # Handshake after ``self.sock`` is the TLS socket, so the deadline
                # can shut a trickled handshake down too.
                self.sock = self._context.wrap_socket(
                    self.sock, server_hostname=self.host, do_handshake_on_connect=False
                )
                self.sock.do_handshake()

    return Pinned


class _PinningHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def __init__(self, *, allow_private: bool, deadline: _Deadline, context):
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self, context=context)
        self.allow_private = allow_private
        self.deadline = deadline

    def _open(self, request, base, **kwargs):
        parts = urlsplit(request.full_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(
            parts.hostname or "",
            port,
            allow_private=self.allow_private,
            timeout=self.deadline.remaining(),
        )
        connection_class = _pinned_connection_class(base, address=address, deadline=self.deadline)
        return self.do_open(connection_class, request, **kwargs)

    def http_open(self, request):
        return self._open(request, http_client.HTTPConnection)

    def https_open(self, request):
        return self._open(request, http_client.HTTPSConnection, context=self._context)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead a checked URL to an internal address (SSRF): the 3xx
    surfaces as an HTTPError instead of being followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Response:
    """A response already read (up to ``max_bytes``) inside the deadline."""

    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def read(self, amount: int = -1) -> bytes:
        return self.body if amount < 0 else self.body[:amount]

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc) -> None:
        return None


def _tls_context():
    return _tls_context_for(getattr(settings, "KEEL_OUTBOUND_CA_BUNDLE", "") or None)


@functools.lru_cache(maxsize=4)
def _tls_context_for(cafile: str | None) -> ssl.SSLContext:
    # Loading the trust store costs tens of milliseconds: once per process (per
    # bundle), not per send. A context is safe to share between threads.
    return ssl.create_default_context(cafile=cafile)


def open_url(
    request: urllib.request.Request,
    *,
    allow_private: bool | None = None,
    deadline_seconds: float | None = None,
    max_bytes: int = 64 * 1024,
) -> Response:
    """Send ``request``: pinned to its checked address, no redirects, no proxies, the
    per-socket timeout on every read and a total deadline on the whole exchange.

    Returns the 2xx response read up to ``max_bytes``. Raises AddressRefused
    (never retry), ``urllib.error.HTTPError`` for any other status (3xx included),
    DeadlineExceeded or another OSError (transient)."""
    if urlsplit(request.full_url).scheme not in {"http", "https"}:
        raise AddressRefused("Only http(s) URLs are sent to.")
    if allow_private is None:
        allow_private = settings.KEEL_WEBHOOKS_ALLOW_PRIVATE
    if deadline_seconds is None:
        deadline_seconds = settings.KEEL_OUTBOUND_DEADLINE_SECONDS
    deadline = _Deadline(deadline_seconds)
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _PinningHandler(allow_private=allow_private, deadline=deadline, context=_tls_context()),
        urllib.request.HTTPDefaultErrorHandler(),
        _RefuseRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    try:
        with opener.open(request, timeout=settings.KEEL_OUTBOUND_TIMEOUT_SECONDS) as raw:
            body = raw.read(max_bytes)
            result = Response(raw.status, raw.headers, body)
        if deadline.expired:
            raise DeadlineExceeded("the outbound deadline passed")
        return result
    except (OSError, http_client.HTTPException) as exc:
        if isinstance(exc, urllib.error.HTTPError) and not deadline.expired:
            raise
        if deadline.expired:
            raise DeadlineExceeded(
                f"no complete answer within {deadline_seconds:g} s (total deadline)"
            ) from exc
        if isinstance(exc, OSError):
            raise
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        deadline.cancel()
