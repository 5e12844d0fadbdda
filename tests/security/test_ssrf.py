"""SSRF: every outbound HTTP request of Keel goes only to the global address it
checked, never follows a redirect, and ends by a total deadline.

Two local servers play the network: a *recorder* on 127.0.0.1 that must never be
reached, and a *public host* standing in for an internet address (``PUBLIC``).
The resolver seam (``common.outbound.getaddrinfo``) answers from a table, e.g.
public first and 127.0.0.1 second (DNS rebinding); the connect seam
(``common.outbound.create_connection``) sends connections for ``PUBLIC`` to the
public host and everything else to the real address asked for.
"""

import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from common import outbound
from common.exceptions import InvalidInput
from notifications.channels import webhook
from notifications.channels.base import Outcome
from notifications.slack import handlers

PUBLIC = "93.184.215.14"  # a global address; the connect seam keeps it local
RESULTS: list[tuple[str, str, str]] = []  # (attack, path, outcome) for the summary table


@pytest.fixture(scope="module", autouse=True)
def summary_table():
    """After the module: the table docs/security.md quotes (shown with ``-s``)."""
    yield
    counts: dict[tuple[str, str], int] = {}
    for _attack, path, outcome in RESULTS:
        counts[(path, outcome)] = counts.get((path, outcome), 0) + 1
    if counts:
        print("\n| path | cases | outcome |\n| --- | --- | --- |")
        for (path, outcome), count in counts.items():
            print(f"| {path} | {count} | {outcome} |")


class Server:
    """A local HTTP server recording every request; ``answer`` picks the response."""

    def __init__(self, answer=None, tls: ssl.SSLContext | None = None):
        self.requests: list[dict] = []
        self.answer = answer or (lambda handler: (200, {}, b"ok"))
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                    | {"body": body}
                )
                status, headers, payload = server.answer(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_HEAD = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recorder():
    server = Server()
    yield server
    server.close()


@pytest.fixture
def public_host():
    server = Server()
    yield server
    server.close()


@pytest.fixture
def net(monkeypatch, settings, public_host):
    """The resolver table and the connect seam. ``net.dns[name]`` is a list of
    answers, one per lookup (the last one repeats); each answer a list of addresses."""
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = False
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 2

    class Net:
        dns: dict[str, list[list[str]]] = {}
        lookups: list[str] = []
        connects: list[str] = []

    real_connect = socket.create_connection

    def getaddrinfo(host, port, family=0, type=0, *args):
        Net.lookups.append(host)
        answers = Net.dns.get(host)
        if answers is None and _is_address(host):
            answers = [[host]]
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in answer
        ]

    def create_connection(address, timeout=None, source_address=None):
        Net.connects.append(address[0])
        if address[0] == PUBLIC:
            return real_connect(("127.0.0.1", public_host.port), timeout)
        return real_connect(address, timeout, source_address)

    monkeypatch.setattr(outbound, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(outbound, "create_connection", create_connection)
    Net.dns = {}
    Net.lookups = []
    Net.connects = []
    return Net


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def send(url: str, **kwargs):
    return webhook.send(
        url=url, secret="whsec_dGVzdA==", message_id="m-1", payload={"x": 1}, **kwargs
    )


# DNS rebinding -----------------------------------------------------------------


def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_the_one_connected(
    net, recorder, public_host
):
    net.dns["rebind.keel.test"] = [[PUBLIC], ["127.0.0.1"]]

    result = send(f"http://rebind.keel.test:{recorder.port}/hook")

    assert result.outcome == Outcome.SENT
    assert net.lookups == ["rebind.keel.test"]  # one lookup: nothing to rebind
    assert net.connects == [PUBLIC]
    assert recorder.requests == []
    (request,) = public_host.requests
    assert request["headers"]["Host"] == f"rebind.keel.test:{recorder.port}"
    RESULTS.append(("DNS rebinding (public, then 127.0.0.1)", "webhook send", "public only"))


def test_a_second_send_to_a_rebinding_name_is_checked_again(net, recorder):
    net.dns["rebind.keel.test"] = [[PUBLIC], ["127.0.0.1"]]
    assert send(f"http://rebind.keel.test:{recorder.port}/hook").outcome == Outcome.SENT

    result = send(f"http://rebind.keel.test:{recorder.port}/hook")

    assert result.outcome == Outcome.PERMANENT and "non-public" in result.error
    assert recorder.requests == []
    RESULTS.append(("DNS rebinding, next send sees 127.0.0.1", "webhook send", "refused"))


def test_a_name_with_one_private_answer_among_public_ones_is_refused(net, recorder):
    net.dns["mixed.keel.test"] = [[PUBLIC, "127.0.0.1"]]

    result = send(f"http://mixed.keel.test:{recorder.port}/hook")

    assert result.outcome == Outcome.PERMANENT and "127.0.0.1" in result.error
    assert net.connects == [] and recorder.requests == []
    RESULTS.append(("one private answer among public ones", "webhook send", "refused"))


def test_the_slack_response_url_is_pinned_too(net, recorder, public_host):
    net.dns["hooks.slack.test"] = [[PUBLIC], ["127.0.0.1"]]

    first = handlers.respond(response_url="http://hooks.slack.test/actions/1", text="hi")
    second = handlers.respond(response_url="http://hooks.slack.test/actions/1", text="hi")

    assert first.outcome == Outcome.SENT and len(public_host.requests) == 1
    assert second.outcome == Outcome.PERMANENT
    assert recorder.requests == []
    RESULTS.append(("DNS rebinding", "Slack response_url", "refused"))


# Every address form and range ----------------------------------------------------

# (form as written in a URL, what it is). Ports point at the recorder where the
# address could reach it.
LITERALS = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback /8"),
    ("[::1]", "IPv6 loopback"),
    ("0.0.0.0", "0.0.0.0/8 (this host)"),
    ("0.1.2.3", "0.0.0.0/8"),
    ("[::]", "IPv6 unspecified"),
    ("2130706433", "decimal IPv4 (127.0.0.1)"),
    ("0x7f.1", "hex + short IPv4 (127.0.0.1)"),
    ("0x7f000001", "hex IPv4 (127.0.0.1)"),
    ("0177.0.0.1", "octal IPv4 (127.0.0.1)"),
    ("127.1", "short IPv4 (127.0.0.1)"),
    ("0", "short IPv4 (0.0.0.0)"),
    ("134744072", "decimal IPv4 of a public address (8.8.8.8)"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
    ("[::ffff:7f00:1]", "IPv4-mapped loopback (hex)"),
    ("[::ffff:10.0.0.1]", "IPv4-mapped private"),
    ("[::ffff:169.254.169.254]", "IPv4-mapped metadata"),
    ("[::127.0.0.1]", "IPv4-compatible loopback"),
    ("[::10.0.0.1]", "IPv4-compatible private"),
    ("[2002:7f00:1::1]", "6to4 of 127.0.0.1"),
    ("[2002:a00:1::1]", "6to4 of 10.0.0.1"),
    ("[2002:808:808::1]", "6to4 of a public address (2002::/16 refused whole)"),
    ("[64:ff9b::7f00:1]", "NAT64 of 127.0.0.1"),
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "Teredo"),
    ("10.0.0.1", "private 10/8"),
    ("172.16.0.1", "private 172.16/12"),
    ("192.168.1.1", "private 192.168/16"),
    ("100.64.0.1", "carrier-grade NAT 100.64/10"),
    ("100.100.100.200", "cloud metadata in 100.64/10"),
    ("169.254.169.254", "link-local metadata"),
    ("169.254.1.1", "link-local"),
    ("[fe80::1]", "IPv6 link-local"),
    ("[fe80::1%25eth0]", "IPv6 link-local with zone"),
    ("[fd00::1]", "unique-local fd00::/8"),
    ("[fc00::1]", "unique-local fc00::/8"),
    ("[fec0::1]", "site-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast (SSDP)"),
    ("[ff02::1]", "IPv6 multicast"),
    ("255.255.255.255", "broadcast"),
    ("240.0.0.1", "reserved 240/4"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation TEST-NET-1"),
    ("198.18.0.1", "benchmarking"),
    ("[2001:db8::1]", "IPv6 documentation"),
]


@pytest.mark.parametrize(("host", "what"), LITERALS, ids=[h for h, _ in LITERALS])
def test_every_non_public_literal_form_is_refused_at_the_form_and_at_the_send(
    net, recorder, host, what
):
    url = f"http://{host}:{recorder.port}/hook"

    with pytest.raises(InvalidInput) as refused:
        webhook.validate_url(url, resolve=False, field="endpoint")
    result = send(url)

    assert refused.value.field == "endpoint"
    assert result.outcome == Outcome.PERMANENT, result
    assert net.connects == [] and recorder.requests == []
    RESULTS.append((what, "literal in URL", "refused"))


RESOLVED = [
    ("127.0.0.1", "loopback"),
    ("::1", "IPv6 loopback"),
    ("0.0.0.0", "0.0.0.0/8"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("2002:7f00:1::1", "6to4 of 127.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 of 10.0.0.1"),
    ("10.1.2.3", "private 10/8"),
    ("172.31.0.1", "private 172.16/12"),
    ("192.168.0.10", "private 192.168/16"),
    ("100.100.100.200", "cloud metadata in 100.64/10"),
    ("169.254.169.254", "link-local metadata"),
    ("fe80::1", "IPv6 link-local"),
    ("fd12:3456::1", "unique-local"),
    ("224.0.0.251", "multicast"),
    ("ff05::2", "IPv6 multicast"),
    ("255.255.255.255", "broadcast"),
]


@pytest.mark.parametrize(("address", "what"), RESOLVED, ids=[a for a, _ in RESOLVED])
def test_a_name_resolving_to_any_non_public_range_is_refused(net, recorder, address, what):
    net.dns["internal.keel.test"] = [[address]]

    result = send(f"http://internal.keel.test:{recorder.port}/hook")

    assert result.outcome == Outcome.PERMANENT
    assert str(ipaddress.ip_address(address)) in result.error
    assert net.connects == [] and recorder.requests == []
    RESULTS.append((what, "DNS answer", "refused"))


def test_the_recorder_is_reachable_when_private_addresses_are_allowed(settings, net, recorder):
    """The control: the refusals above are the check's doing, not a dead recorder."""
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    net.dns["dev.keel.test"] = [["127.0.0.1"]]

    assert send(f"http://127.0.0.1:{recorder.port}/hook").outcome == Outcome.SENT
    assert send(f"http://dev.keel.test:{recorder.port}/hook").outcome == Outcome.SENT
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/"])
def test_other_schemes_are_refused(net, url):
    assert send(url).outcome == Outcome.PERMANENT
    with pytest.raises(outbound.AddressRefused):
        outbound.open_url(urllib.request.Request(url))
    RESULTS.append((url.split(":")[0] + " scheme", "URL", "refused"))


# Redirects ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_to_loopback_are_not_followed(net, recorder, public_host, status):
    target = f"http://127.0.0.1:{recorder.port}/latest/meta-data/"
    public_host.answer = lambda handler: (status, {"Location": target}, b"")
    net.dns["redirects.keel.test"] = [[PUBLIC]]

    result = send("http://redirects.keel.test/hook")

    assert result.outcome == Outcome.PERMANENT and "redirects are not followed" in result.error
    assert len(public_host.requests) == 1 and recorder.requests == []
    RESULTS.append((f"HTTP {status} redirect to 127.0.0.1", "webhook send", "not followed"))


# The total deadline --------------------------------------------------------------


class Trickle:
    """Accepts, then sends ``head`` one byte every ``pace`` seconds, forever."""

    def __init__(self, head: bytes, pace: float = 0.25):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.accepted = 0

        def serve():
            self.listener.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    conn, _ = self.listener.accept()
                except OSError:
                    continue
                self.accepted += 1
                threading.Thread(target=self.trickle, args=(conn, head, pace), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

    def trickle(self, conn, head, pace):
        with conn:
            data = head
            while not self.stop.is_set():
                chunk, data = (data[:1], data[1:]) if data else (b"x", b"")
                try:
                    conn.sendall(chunk)
                except OSError:
                    return
                time.sleep(pace)

    def close(self):
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize(
    ("scheme", "head"),
    [
        ("http", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000),  # never ends the headers
        ("http", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"),  # then the body
        ("https", b"\x16\x03\x03\x40\x00"),  # a 16 KB TLS handshake record, a byte a beat
    ],
    ids=["trickled-headers", "trickled-body", "trickled-tls-handshake"],
)
def test_a_trickling_receiver_cannot_hold_a_worker_past_the_deadline(settings, scheme, head):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1  # each byte arrives well inside this
    settings.KEEL_OUTBOUND_DEADLINE_SECONDS = 2
    server = Trickle(head)
    try:
        started = time.monotonic()
        result = send(f"{scheme}://127.0.0.1:{server.port}/hook")
        took = time.monotonic() - started
    finally:
        server.close()

    assert server.accepted == 1
    assert result.outcome == Outcome.RETRY, result
    # CPython bounds a whole TLS handshake by the socket timeout; HTTP reads are not.
    assert ("timed out" if scheme == "https" else "deadline") in result.error, result
    assert took < 30  # a generous bound: without the deadline this never returns
    RESULTS.append(("receiver trickling 4 bytes/s", "webhook send", "retry at deadline"))


# Real HTTPS with a pinned address -------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=hooks.keel.test", "-addext", "subjectAltName=DNS:hooks.keel.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def tls_server(certificate):
    key, cert = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = Server(tls=context)
    server.sni = names
    yield server
    server.close()


def test_https_to_a_pinned_address_keeps_sni_and_certificate_verification(
    settings, net, tls_server, certificate
):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # the TLS server is on 127.0.0.1
    settings.KEEL_OUTBOUND_CA_BUNDLE = str(certificate[1])
    # Only the seam knows these names: the connection can only be to the pinned address.
    net.dns["hooks.keel.test"] = [["127.0.0.1"]]
    net.dns["other.keel.test"] = [["127.0.0.1"]]

    good = send(f"https://hooks.keel.test:{tls_server.port}/hook")
    wrong_name = send(f"https://other.keel.test:{tls_server.port}/hook")

    assert good.outcome == Outcome.SENT, good
    assert tls_server.sni[0] == "hooks.keel.test"
    assert tls_server.requests[0]["headers"]["Host"] == f"hooks.keel.test:{tls_server.port}"
    # The certificate names hooks.keel.test: verification refuses it for another name.
    assert wrong_name.outcome == Outcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in wrong_name.error
    assert len(tls_server.requests) == 1
    RESULTS.append(("HTTPS certificate for another name", "webhook send", "refused (TLS)"))


def test_https_without_the_trust_store_setting_refuses_a_self_signed_certificate(
    settings, net, tls_server
):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    net.dns["hooks.keel.test"] = [["127.0.0.1"]]

    result = send(f"https://hooks.keel.test:{tls_server.port}/hook")

    assert result.outcome == Outcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert tls_server.requests == []


# The anonymous subscribe form ------------------------------------------------------


@pytest.mark.django_db
def test_the_anonymous_subscribe_form_cannot_make_keel_post_to_loopback(
    net, recorder, public_host, monkeypatch
):
    from django.core.cache import cache
    from django.test import Client

    from statuspage import subscriber_outbox, tasks
    from statuspage.subscriber_models import Subscriber, SubscriberNotification

    monkeypatch.setattr(
        tasks.subscriber_notifications_send_batch_task, "apply_async", lambda *a, **k: None
    )
    cache.clear()
    net.dns["rebind.keel.test"] = [[PUBLIC], ["127.0.0.1"]]
    net.dns["internal.keel.test"] = [["127.0.0.1"]]
    client = Client()

    def subscribe(endpoint):
        return client.post("/status/subscriptions/", {"kind": "webhook", "endpoint": endpoint})

    accepted = [
        subscribe(f"http://rebind.keel.test:{recorder.port}/hook"),
        subscribe(f"http://internal.keel.test:{recorder.port}/hook"),
    ]
    refused = [
        subscribe(f"http://{host}:{recorder.port}/hook")
        for host in ("127.0.0.1", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "100.100.100.200")
    ]
    assert [r.status_code for r in accepted] == [200, 200]
    assert [r.status_code for r in refused] == [400] * 5
    assert net.lookups == []  # the request path makes no DNS lookup and no connection

    for row in SubscriberNotification.objects.all():  # the worker sends the challenges
        subscriber_outbox.notification_attempt(row.pk)

    assert recorder.requests == []
    (challenge,) = public_host.requests  # the rebinding name's challenge went to PUBLIC
    assert json.loads(challenge["body"])["type"] == "endpoint.verification"
    rows = {row.subscriber.endpoint: row for row in SubscriberNotification.objects.all()}
    assert rows[f"http://internal.keel.test:{recorder.port}/hook"].status == "dead"
    assert "non-public" in rows[f"http://internal.keel.test:{recorder.port}/hook"].last_error
    assert not Subscriber.objects.filter(confirmed_at__isnull=False).exists()
    RESULTS.append(("subscribe form: rebinding and internal names", "anonymous form", "refused"))
    RESULTS.append(("subscribe form: 5 literal loopback/metadata forms", "anonymous form", "400"))
