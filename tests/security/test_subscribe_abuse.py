"""The public subscribe form cannot be turned against anyone: limited confirmation
emails (per normalised mailbox, per client, in total), webhook endpoints verified
by an echoed challenge before they get anything, and a confirmed subscription
changed only through its owner's signed link."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from notifications.channels import webhook as webhook_channel
from statuspage import subscriber_outbox, subscriptions
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.integration.conftest import free_port
from tests.statuspage.conftest import (
    components as components,
)
from tests.statuspage.conftest import (
    incident as incident,
)
from tests.statuspage.conftest import (
    no_broker as no_broker,
)
from tests.statuspage.conftest import publish
from tests.statuspage.conftest import (
    snapshot_dir as snapshot_dir,
)

pytestmark = pytest.mark.django_db
Status = SubscriberNotification.Status
SUMMARY: list[tuple[str, int, str]] = []  # (attack, attempts, outcome) for docs/security.md


@pytest.fixture(scope="module", autouse=True)
def summary_table():
    """After the module: the table docs/security.md quotes (shown with ``-s``)."""
    yield
    if SUMMARY:
        print("\n| attack | attempts | outcome |\n| --- | --- | --- |")
        for attack, count, outcome in SUMMARY:
            print(f"| {attack} | {count} | {outcome} |")


@pytest.fixture(autouse=True)
def fresh_limits(settings, monkeypatch):
    from statuspage import tasks

    monkeypatch.setattr(
        tasks.subscriber_notifications_send_batch_task, "apply_async", lambda *a, **k: None
    )
    settings.KEEL_SUBSCRIBE_PER_ADDRESS = 3
    settings.KEEL_SUBSCRIBE_PER_CLIENT = 10
    settings.KEEL_SUBSCRIBE_GLOBAL = 200
    settings.KEEL_TRUSTED_PROXY_COUNT = 0
    cache.clear()


def send_all():
    for row in SubscriberNotification.objects.filter(status=Status.PENDING):
        subscriber_outbox.notification_attempt(row.pk)


def subscribe(client=None, remote="198.51.100.7", **data):
    data.setdefault("kind", "email")
    return (client or Client()).post("/status/subscriptions/", data, REMOTE_ADDR=remote)


# Confirmation email limits ---------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "victim+{n}@example.test",
        "Victim+{n}@EXAMPLE.test",
        "v.i.c.t.i.m+{n}@example.test",
        "vic.tim+x{n}@example.test",
    ],
)
def test_forty_tagged_addresses_of_one_mailbox_get_at_most_the_limit(address):
    responses = [subscribe(email=address.format(n=n), remote=f"198.51.100.{n}") for n in range(40)]
    send_all()

    accepted = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(accepted) == 3 and len(limited) == 37
    assert len(mail.outbox) == 3
    assert Subscriber.objects.count() == 3  # a refused request stores nothing
    refused = limited[-1]
    assert 0 < int(refused["Retry-After"]) <= 3600
    text = refused.content.decode()
    assert "Too many subscription requests for this address" in text
    assert 'value="' + address.format(n=39) + '"' in text  # the input is kept
    assert 'role="alert"' in text
    SUMMARY.append((f"40 tagged/dotted/cased variants of one mailbox ({address})", 40, "3 sent"))


def test_one_client_cannot_mail_forty_different_people():
    responses = [subscribe(email=f"person{n}@example.test") for n in range(40)]
    send_all()

    assert [r.status_code for r in responses].count(200) == 10
    assert len(mail.outbox) == 10
    assert b"from your network" in responses[-1].content
    # Another client still can.
    assert subscribe(email="someone@example.test", remote="203.0.113.50").status_code == 200
    SUMMARY.append(("40 mailboxes from one client address", 40, "10 sent, 30 refused (429)"))


def test_a_forged_forwarded_for_header_does_not_buy_a_new_budget():
    responses = [
        Client().post(
            "/status/subscriptions/",
            {"kind": "email", "email": f"p{n}@example.test"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
        for n in range(15)
    ]
    assert [r.status_code for r in responses].count(200) == 10
    SUMMARY.append(("15 requests with forged X-Forwarded-For", 15, "10 sent"))


def test_behind_a_trusted_proxy_the_appended_address_is_the_client(settings):
    settings.KEEL_TRUSTED_PROXY_COUNT = 1
    proxy = "10.9.0.2"
    one = [
        Client().post(
            "/status/subscriptions/",
            {"kind": "email", "email": f"p{n}@example.test"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.9",  # forged left part, nginx's right
        )
        for n in range(12)
    ]
    other = subscribe(email="q@example.test", remote=proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")

    assert [r.status_code for r in one].count(200) == 10
    assert other.status_code == 200


def test_an_ipv6_client_gets_one_budget_for_its_slash_64():
    responses = [
        subscribe(email=f"p{n}@example.test", remote=f"2001:db8:1:2::{n + 1:x}") for n in range(12)
    ]
    assert [r.status_code for r in responses].count(200) == 10
    SUMMARY.append(("12 addresses from one IPv6 /64", 12, "10 sent"))


def test_the_global_cap_holds_across_clients(settings):
    settings.KEEL_SUBSCRIBE_GLOBAL = 5
    responses = [subscribe(email=f"p{n}@example.test", remote=f"203.0.113.{n}") for n in range(8)]
    send_all()

    assert [r.status_code for r in responses].count(200) == 5 and len(mail.outbox) == 5
    assert b"right now" in responses[-1].content and int(responses[-1]["Retry-After"]) > 0


def test_re_asking_for_one_address_sends_one_confirmation_per_interval():
    for _ in range(5):
        assert subscribe(email="victim@example.test").status_code == 200
    send_all()
    assert len(mail.outbox) == 1


def test_without_the_limit_store_the_form_refuses_rather_than_runs_unlimited(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = subscribe(email="a@example.test")

    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "data,field",
    [
        ({"email": "a\x00b@example.test"}, "email"),
        ({"email": "x" * 300 + "@example.test"}, "email"),
        ({"kind": "webhook", "endpoint": "http://a\x00b/"}, "endpoint"),
        ({"kind": "webhook", "endpoint": "http://example.com/\r\nX: 1"}, "endpoint"),
        ({"components": "a\x00"}, "components"),
        ({"kind": "pigeon"}, None),
        ({"components": "nope"}, "components"),
    ],
)
def test_bad_input_is_a_400_with_the_form_kept_and_nothing_stored(components, data, field):
    response = subscribe(**data)

    assert response.status_code == 400
    text = response.content.decode()
    # The form comes back (for a NUL too: the view refuses it itself, before any query),
    # the reason beside the field at fault and the input kept, control characters
    # shown as U+FFFD (a page cannot carry a NUL).
    assert 'class="subscribe-form"' in text and "Not subscribed:" in text
    assert "\x00" not in text
    if field is None:
        assert 'id="subscribe-error"' in text
    else:
        assert f'id="{field}-error"' in text
    if field in ("email", "endpoint"):
        assert 'aria-invalid="true"' in text
        kept = "".join("\ufffd" if ord(ch) < 32 else ch for ch in data[field][:300])
        assert f'value="{kept}"' in text
    if data.get("kind") == "webhook":
        assert 'id="kind-webhook" checked' in text  # the chosen kind's fields are shown
    assert not Subscriber.objects.exists()


# Webhook endpoint verification ----------------------------------------------------


class Endpoint:
    """A webhook receiver that checks signatures; ``mode`` is echo, ignore or wrong."""

    def __init__(self, mode: str):
        self.mode = mode
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.secret = ""
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if not webhook_channel.verify(secret=endpoint.secret, headers=headers, body=body):
                    endpoint.bad_signatures += 1
                event = json.loads(body)
                endpoint.events.append(event)
                answer = b"{}"
                if event.get("type") == "endpoint.verification":
                    if endpoint.mode == "echo":
                        answer = event["challenge"].encode()
                    elif endpoint.mode == "wrong":
                        answer = json.dumps({"challenge": "guess"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keel"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint(settings, request):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # the endpoint is on 127.0.0.1
    server = Endpoint(request.param)
    yield server
    server.close()


def subscribe_webhook(endpoint) -> Subscriber:
    response = subscribe(kind="webhook", endpoint=endpoint.url)
    assert response.status_code == 200 and b"Verify your endpoint" in response.content
    secret = re.search(rb"whsec_[A-Za-z0-9+/=]+", response.content).group().decode()
    endpoint.secret = secret
    assert endpoint.events == []  # the request itself sent nothing
    return Subscriber.objects.get(kind="webhook", secret=secret)


@pytest.mark.parametrize("endpoint", ["ignore", "wrong"], indirect=True)
def test_an_endpoint_that_does_not_echo_the_challenge_gets_nothing_else(
    endpoint, incident, responder, components
):
    subscriber = subscribe_webhook(endpoint)
    send_all()
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    send_all()
    for row in SubscriberNotification.objects.all():  # even when the sweeper retries
        subscriber_outbox.notification_attempt(row.pk)

    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    assert [e["type"] for e in endpoint.events] == ["endpoint.verification"]
    assert endpoint.bad_signatures == 0
    (row,) = SubscriberNotification.objects.all()
    assert row.status == Status.DEAD and "challenge" in row.last_error
    SUMMARY.append((f"webhook endpoint that answers {endpoint.mode}", 1, "unconfirmed, 0 sent"))


@pytest.mark.parametrize("endpoint", ["echo"], indirect=True)
def test_an_endpoint_that_echoes_the_challenge_is_confirmed_then_told(
    endpoint, incident, responder, components
):
    subscriber = subscribe_webhook(endpoint)
    send_all()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    history = subscriber.history.first()
    assert history.history_change_reason == "endpoint verified (challenge echoed)"

    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    send_all()

    assert [e.get("type") for e in endpoint.events] == ["endpoint.verification", "incident_update"]
    assert endpoint.events[1]["incident"]["name"] == "API errors"
    assert endpoint.bad_signatures == 0
    # Re-submitting the confirmed endpoint adds no subscriber and sends nothing.
    api = components["api"].public_id
    again = subscribe(kind="webhook", endpoint=endpoint.url, components=[api])
    assert again.status_code == 200 and b"Already subscribed" in again.content
    assert Subscriber.objects.filter(kind="webhook").count() == 1
    assert not subscriber.components.exists()
    SUMMARY.append(("webhook endpoint that echoes the challenge", 1, "confirmed"))


@pytest.mark.parametrize("endpoint", ["ignore"], indirect=True)
def test_one_client_cannot_make_keel_challenge_an_endpoint_repeatedly(endpoint):
    responses = [subscribe(kind="webhook", endpoint=endpoint.url) for _ in range(6)]
    assert [r.status_code for r in responses].count(200) == 3  # per endpoint host
    assert SubscriberNotification.objects.count() == 3


# Changes to a confirmed subscription --------------------------------------------------


@pytest.fixture
def confirmed(components):
    subscriber = Subscriber.objects.create(
        kind="email", email="ann@example.test", confirmed_at="2026-01-01T00:00:00Z"
    )
    subscriber.components.set([components["api"], components["dashboard"]])
    return subscriber


def manage_path(body: str) -> str:
    url = next(w for w in body.split() if "/status/subscriptions/manage/" in w)
    return url.split("127.0.0.1:8000", 1)[-1]


def test_re_submitting_a_confirmed_address_changes_nothing_and_mails_its_owner(
    confirmed, components
):
    before = confirmed.history.count()
    responses = [
        subscribe(email="Ann@example.test", components=[components["email"].public_id])
        for _ in range(4)
    ]
    send_all()

    assert all(r.status_code == 200 for r in responses)
    assert b"Check your inbox" in responses[0].content
    confirmed.refresh_from_db()
    assert set(confirmed.components.values_list("slug", flat=True)) == {"api", "dashboard"}
    assert confirmed.history.count() == before
    (message,) = mail.outbox  # one per interval, however often the form is sent
    assert "nothing was changed" in message.body
    assert "/status/subscriptions/manage/" in message.body
    SUMMARY.append(("narrow a confirmed subscription through the form", 4, "unchanged"))


def test_the_signed_manage_link_is_the_way_to_change_it(confirmed, components):
    subscribe(email="ann@example.test")
    send_all()
    path = manage_path(mail.outbox[0].body)
    client = Client()

    page = client.get(path)
    assert page.status_code == 200
    assert page.content.count(b" checked") == 2  # api and dashboard

    saved = client.post(path, {"components": [components["email"].public_id]})

    assert saved.status_code == 200
    confirmed.refresh_from_db()
    assert list(confirmed.components.values_list("slug", flat=True)) == ["email"]
    assert confirmed.history.first().history_change_reason.startswith("components changed")


@pytest.mark.parametrize("which", ["garbage", "confirm", "unsubscribe"])
def test_other_tokens_cannot_manage(confirmed, components, which):
    token = "nonsense" if which == "garbage" else subscriptions.token_for(confirmed, which)

    response = Client().post(
        f"/status/subscriptions/manage/{token}/", {"components": [components["email"].public_id]}
    )

    assert response.status_code == 400
    assert set(confirmed.components.values_list("slug", flat=True)) == {"api", "dashboard"}
