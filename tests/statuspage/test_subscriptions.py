"""Subscribers: double opt-in, one-click unsubscribe, per-component choice, signed
webhooks with Statuspage's envelope, all through the subscribers' outbox."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.test import Client

from notifications.channels import webhook as webhook_channel
from statuspage import snapshot, subscriber_outbox, subscriptions
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
Status = SubscriberNotification.Status


def send_all():
    for row in SubscriberNotification.objects.filter(status=Status.PENDING):
        subscriber_outbox.notification_attempt(row.pk)


def link(body: str, kind: str) -> str:
    line = next(w for w in body.split() if f"/status/subscriptions/{kind}/" in w)
    return line.split("127.0.0.1:8000", 1)[-1] if "://" in line else line


def test_email_double_opt_in_then_one_click_unsubscribe(incident, responder, components):
    client = Client()
    snapshot.snapshot_publish()
    form = client.get("/status/subscribe/")
    assert form.status_code == 200 and b'action="/status/subscriptions/"' in form.content

    response = client.post("/status/subscriptions/", {"kind": "email", "email": "Ann@Example.test"})
    assert response.status_code == 200 and b"Check your inbox" in response.content
    assert not response.cookies
    subscriber = Subscriber.objects.get(email="ann@example.test")
    assert subscriber.confirmed_at is None
    send_all()
    (confirmation,) = mail.outbox
    confirm_path = link(confirmation.body, "confirm")

    # Nothing but the confirmation before confirming.
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    send_all()
    assert len(mail.outbox) == 1

    assert client.get(confirm_path).status_code == 200  # a link scanner's GET confirms nothing
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    assert client.post(confirm_path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.active

    publish(incident, responder, "Fixed.", public_status="resolved")
    send_all()
    notice = mail.outbox[-1]
    assert notice.subject == "[Keel status] API errors: Resolved"
    assert "Fixed." in notice.body and "/status/incidents/" in notice.body
    unsubscribe_url = notice.extra_headers["List-Unsubscribe"].strip("<>")
    assert notice.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe_url.split("127.0.0.1:8000", 1)[1]
    one_click = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    assert client.post(path).status_code == 200  # idempotent


def test_bad_or_swapped_tokens_are_refused(components):
    subscriber = Subscriber.objects.create(kind="email", email="b@example.test")
    client = Client()
    assert client.post("/status/subscriptions/confirm/nonsense/").status_code == 400
    # An unsubscribe token cannot confirm.
    token = subscriptions.token_for(subscriber, "unsubscribe")
    assert client.post(f"/status/subscriptions/confirm/{token}/").status_code == 400
    assert client.post("/status/subscriptions/", {"kind": "email", "email": "x"}).status_code == 400


def test_per_component_choice(incident, responder, components):
    api_only = Subscriber.objects.create(kind="email", email="api@example.test")
    api_only.components.add(components["api"])
    email_only = Subscriber.objects.create(kind="email", email="mail@example.test")
    email_only.components.add(components["email"])
    everything = Subscriber.objects.create(kind="email", email="all@example.test")
    Subscriber.objects.filter(pk__in=[api_only.pk, email_only.pk, everything.pk]).update(
        confirmed_at="2026-01-01T00:00:00Z"
    )
    publish(incident, responder, public_title="API errors", components={"api": "partial_outage"})
    send_all()
    assert sorted(m.to[0] for m in mail.outbox) == ["all@example.test", "api@example.test"]


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body))
        event = json.loads(body)
        if event.get("type") == "endpoint.verification":  # endpoint verification: echo
            answer = json.dumps({"challenge": event["challenge"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def test_webhook_subscribers_get_a_signed_statuspage_envelope(
    incident, responder, components, receiver
):
    url, received = receiver
    response = Client().post("/status/subscriptions/", {"kind": "webhook", "endpoint": url})
    assert response.status_code == 200 and b"whsec_" in response.content
    subscriber = Subscriber.objects.get(kind="webhook")
    assert not subscriber.active  # until the endpoint echoes the challenge
    send_all()
    subscriber.refresh_from_db()
    assert subscriber.active and len(received) == 1

    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    send_all()
    (headers, body) = received[-1]
    lower = {k.lower(): v for k, v in headers.items()}
    assert webhook_channel.verify(secret=subscriber.secret, headers=lower, body=body)
    payload = json.loads(body)
    assert set(payload) == {"type", "version", "meta", "page", "incident"}
    assert (payload["type"], payload["version"]) == ("incident_update", 1)
    assert payload["page"]["status_indicator"] == "critical"
    assert payload["page"]["status_description"] == "Major Service Outage"
    assert payload["incident"]["name"] == "API errors"
    assert payload["incident"]["incident_updates"][0]["status"] == "investigating"
    assert "/status/subscriptions/unsubscribe/" in payload["meta"]["unsubscribe"]
    assert "/status/subscriptions/manage/" in payload["meta"]["manage"]
    assert set(SubscriberNotification.objects.values_list("status", flat=True)) == {Status.SENT}


def test_webhooks_to_private_addresses_are_refused_by_default(components):
    response = Client().post(
        "/status/subscriptions/", {"kind": "webhook", "endpoint": "http://127.0.0.1:9/x"}
    )
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def test_a_failing_webhook_is_retried_then_swept(incident, responder, components, settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    Subscriber.objects.create(
        kind="webhook",
        endpoint="http://127.0.0.1:9/closed",
        secret="whsec_dGVzdA==",
        confirmed_at="2026-01-01T00:00:00Z",
    )
    publish(incident, responder, public_title="API errors")
    send_all()
    row = SubscriberNotification.objects.get()
    assert row.status == Status.FAILED and row.attempts == 1 and row.last_error


def test_the_public_form_cannot_flood_an_inbox(components):
    client = Client()
    for _ in range(5):
        client.post("/status/subscriptions/", {"kind": "email", "email": "victim@example.test"})
    send_all()
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("endpoint", ["http://[::1", "http://example.com:99999/"])
def test_a_malformed_webhook_endpoint_is_a_400_naming_the_field(client, endpoint):
    response = client.post("/status/subscriptions/", {"kind": "webhook", "endpoint": endpoint})
    assert response.status_code == 400
    assert b"Not a valid URL" in response.content
