"""The Communications tab's composer: audiences with who they reach, the component
picker, the impact override, and the preview of what each destination receives —
built by the senders' own code, writing nothing."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox, rendering, services
from notifications.channels import slack as slack_channel
from notifications.models import Delivery, Destination, StatusUpdate
from notifications.slack.readable import mrkdwn
from statuspage.models import PublicIncident
from statuspage.subscriber_models import Subscriber
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def snapshot_dir(tmp_path, settings):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"


@pytest.fixture
def components(db):
    store = ComponentGroupFactory(name="Store", position=1)
    return {
        "checkout": ComponentFactory(slug="checkout", name="Checkout", group=store, position=1),
        "search": ComponentFactory(slug="search", name="Search", group=store, position=2),
        "api": ComponentFactory(slug="api", name="Public API", position=3),
    }


@pytest.fixture
def destinations(db):
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.SLACK,
        name="incidents channel",
        target="#inc-checkout",
    )
    DestinationFactory(
        audience=audience("cs"),
        kind=Destination.Kind.EMAIL,
        name="CS list",
        target="cs@ex.test, cs-leads@ex.test",
    )
    DestinationFactory(
        audience=audience("business"),
        kind=Destination.Kind.WEBHOOK,
        name="BI hook",
        target="https://hooks.bi.example/keel?token=x",
    )
    now = timezone.now()
    Subscriber.objects.create(kind="email", email="a@ex.test", confirmed_at=now)
    Subscriber.objects.create(kind="email", email="b@ex.test", confirmed_at=now)
    Subscriber.objects.create(kind="email", email="unconfirmed@ex.test")


@pytest.fixture
def incident(responder, components, destinations):
    return incident_services.incident_declare(
        title="Checkout 502s (internal)", severity=severity("SEV2"), actor=responder
    )


def page(incident) -> str:
    return f"/incidents/{incident.pk}/communications/"


def field(component) -> str:
    return f"component-{component.public_id}"


def written() -> tuple:
    return (
        StatusUpdate.objects.filter(kind="manual").count(),
        Delivery.objects.filter(update__kind="manual").count(),
        PublicIncident.objects.count(),
        len(mail.outbox),
    )


def test_audiences_say_who_they_reach_and_the_routing_default_is_ticked(
    client, responder, incident
):
    client.force_login(responder)
    html = client.get(page(incident)).content.decode()

    assert "#inc-checkout" in html  # Slack channel name
    assert "cs@ex.test, cs-leads@ex.test" in html  # the list's addresses
    assert "hooks.bi.example" in html and "token=x" not in html  # the host, not the secret URL
    assert "the status page and 2 confirmed subscribers" in html
    # A manual SEV2 update: responders by routing (ticked, and said so); CS and the
    # business list only for public updates (the default routes: no internal notes).
    ticked = set(re.findall(r'name="audiences" value="(\w+)"[^>]*checked', html))
    assert ticked == {"responders"}
    assert 'value="cs" id="audience-cs" data-routed="public"' in html
    assert 'value="business" id="audience-business" data-routed="public"' in html
    assert html.count("routing default</span>") == 1
    assert "routing default for public updates" in html


def test_the_picker_lists_components_by_group_with_their_status_and_no_slugs(
    client, responder, incident, components
):
    components["search"].status = "degraded_performance"
    components["search"].save()
    client.force_login(responder)
    html = client.get(page(incident)).content.decode()

    assert '<p class="picker-group-name">Store</p>' in html
    for component in components.values():
        assert f'<label for="id_{field(component)}">{component.name}</label>' in html
    assert 'now <span class="status-label s-degraded_performance">Degraded performance' in html
    assert 'name="components"' not in html  # nothing to type
    # Nothing public yet: it cannot start resolved, and the title is asked for.
    statuses = re.search(r'<select name="public_status".*?</select>', html, re.S).group(0)
    assert "investigating" in statuses and "resolved" not in statuses
    assert "Needed for the first public update" in html


def test_preview_shows_what_each_destination_receives_and_writes_nothing(
    client, responder, incident, components
):
    client.force_login(responder)
    before = written()

    response = client.post(
        page(incident) + "updates/preview/",
        {
            "message": "Some card payments fail. We are on it.",
            "audiences": ["responders", "cs", "public"],
            "public_status": "investigating",
            "public_title": "Card payments failing",
            field(components["checkout"]): "partial_outage",
            field(components["search"]): "degraded_performance",
            "next_update_in": "30",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert written() == before
    # The CS email: the subject and body the email sender sends, from the same functions.
    unsaved = StatusUpdate(
        incident=incident, message="Some card payments fail. We are on it.",
        public_status="investigating", next_update_at=timezone.now(),
    )  # fmt: skip
    assert rendering.subject(unsaved) in html
    # (No "Customer impact:" line: the incident names no features, and an empty
    # placeholder's line is left out.)
    assert "Customer impact:" not in html and "Some card payments fail. We are on it." in html
    assert "cs@ex.test, cs-leads@ex.test" in html
    # Slack: the thread reply, readable (the promise in italics), and the announcement.
    slack = re.search(r"data-preview-slack>.*?</details>", html, re.S).group(0)
    assert "<em>Next update by" in slack and "#inc-checkout" in slack
    assert f"#{incident.pk} Checkout 502s (internal)" in slack
    # The public page block, by the status page's template: title, impact, components.
    block = re.search(r'<div class="status-preview">.*?</section></div>', html, re.S).group(0)
    assert "<h2>Card payments failing</h2>" in block
    assert "Investigating" in block and "Major impact" in block  # partial outage → major
    assert "Affected components: Checkout, Search" in block
    assert "Some card payments fail. We are on it." in block
    assert "2 confirmed subscribers will be sent this update" in html
    email = re.search(r"data-preview-subscriber-email>.*?</pre>", html, re.S).group(0)
    assert "Card payments failing: Investigating" in email  # the subscribers' subject
    assert "Affected: Checkout, Search" in email and "/status/incidents/(new)/" in email
    assert "<strong>Checkout</strong>: Operational → Partial outage" in html
    # The field error slots are emptied out of band.
    assert re.search(r'<div id="errors-public_title" hx-swap-oob="true">\s*</div>', html)


def test_preview_refusals_sit_next_to_their_field_and_leave_the_input_alone(
    client, responder, incident, components
):
    client.force_login(responder)
    before = written()

    response = client.post(
        page(incident) + "updates/preview/",
        {
            "message": "Checkout is slow.",
            "audiences": ["cs", "public"],
            "public_status": "investigating",
            field(components["checkout"]): "degraded_performance",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    slot = re.search(r'<div id="errors-public_title" hx-swap-oob="true">(.*?)</div>', html, re.S)
    assert "needs a public title" in slot.group(1)
    assert "data-preview-refused" in html and "data-preview>" not in html
    assert 'name="message"' not in html  # the typed form is not replaced
    assert written() == before


def test_the_impact_override_reaches_the_public_incident(client, responder, incident, components):
    client.force_login(responder)

    response = client.post(
        page(incident) + "updates/",
        {
            "message": "Checkout is slow for some.",
            "audiences": ["public"],
            "public_status": "investigating",
            "public_title": "Slow checkout",
            "public_impact": "critical",
            field(components["checkout"]): "degraded_performance",
        },
    )

    assert response.status_code == 302
    update = StatusUpdate.objects.get(kind="manual")
    assert update.public_impact == "critical" and update.components == {
        "checkout": "degraded_performance"
    }
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT
    assert PublicIncident.objects.get().impact == "critical"


def test_without_an_override_the_impact_follows_the_components(as_user, responder, incident):
    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/preview/",
        {
            "message": "Slow.",
            "audiences": ["public"],
            "public_status": "investigating",
            "public_title": "Slow checkout",
            "components": {"checkout": "degraded_performance"},
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["public_impact"] == "minor"


def test_an_impact_without_the_public_audience_is_refused(as_user, responder, incident):
    before = written()
    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Slow.", "audiences": ["cs"], "public_impact": "major"},
        format="json",
    )
    assert response.status_code == 400
    assert "public status page" in response.json()["errors"]["public_impact"][0]
    assert written() == before


def test_no_audience_ticked_is_refused_naming_the_field(client, responder, incident):
    client.force_login(responder)
    response = client.post(page(incident) + "updates/", {"message": "Anyone?"})
    assert response.status_code == 400
    assert "Tick at least one audience" in response.content.decode()
    assert written() == (0, 0, 0, 0)


def test_slack_mrkdwn_is_readable_and_user_text_stays_text():
    reply_text, _ = slack_channel.blocks.update_reply(
        text="Deploy <b>x</b> & *rolled back* <!channel>", next_update="10:30 UTC"
    )
    html = str(mrkdwn(reply_text + " <https://keel.example/incidents/1/|Open in Keel>"))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; <strong>rolled back</strong> &lt;!channel&gt;" in html
    assert "<em>Next update by 10:30 UTC</em>" in html
    assert '<a href="https://keel.example/incidents/1/" rel="noopener">Open in Keel</a>' in html


def _published(incident, actor, status, **fields):
    update = services.update_post(
        incident=incident,
        message=f"{status.capitalize()}.",
        actor=actor,
        audiences=["public"],
        public_status=status,
        **fields,
    )
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT


def test_the_public_state_decides_what_the_composer_offers(client, responder, incident, components):
    client.force_login(responder)
    _published(
        incident,
        responder,
        "investigating",
        public_title="Slow checkout",
        components={"checkout": "degraded_performance"},
    )
    html = client.get(page(incident)).content.decode()
    assert "Public incident “Slow checkout”: investigating, minor impact." in html
    assert "this incident says degraded performance" in html
    assert "Rename the public incident" in html and 'value="reopen"' not in html

    _published(incident, responder, "resolved")
    html = client.get(page(incident)).content.decode()
    assert "Public incident “Slow checkout”: resolved" in html
    assert 'value="reopen"' in html and 'value="new"' in html  # the responder chooses
    statuses = re.search(r'<select name="public_status".*?</select>', html, re.S).group(0)
    assert 'value="resolved"' in statuses  # an addendum (e.g. the postmortem summary)
