"""Everything the status page worker would refuse is refused at the request — through
the form, the API and Slack — before any audience is sent anything: no StatusUpdate,
no Delivery, no email. Accepted updates publish; names and public ids are understood."""

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox, services, tasks
from notifications.models import Delivery, Destination, SlackRequest, StatusUpdate
from statuspage.models import Component, PublicIncident, PublicIncidentUpdate
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory
from tests.fakes.slack import SIGNING_SECRET, ResponseUrlReceiver, command_body, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def snapshot_dir(tmp_path, settings):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"


@pytest.fixture
def components(db):
    store = ComponentGroupFactory(name="Store")
    return {
        "checkout": ComponentFactory(slug="checkout", name="Checkout", group=store),
        "api": ComponentFactory(slug="api", name="API"),
    }


@pytest.fixture
def cs_list(db):
    return DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, name="CS list", target="cs@ex.test"
    )


@pytest.fixture
def incident(responder, components, cs_list):
    return incident_services.incident_declare(
        title="Checkout 502s (internal)", severity=severity("SEV2"), actor=responder
    )


def run_statuspage_deliveries(update) -> list[str]:
    results = []
    for delivery in update.deliveries.filter(destination__kind=Destination.Kind.STATUSPAGE):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        results.append(outbox.delivery_attempt(delivery.pk).status)
    return results


def post_public(incident, actor, status, **kwargs):
    update = services.update_post(
        incident=incident,
        message=f"{status} update.",
        actor=actor,
        audiences=["public"],
        public_status=status,
        **kwargs,
    )
    assert run_statuspage_deliveries(update) == [Delivery.Status.SENT]
    return update


def resolved_public_incident(incident, actor):
    post_public(incident, actor, "investigating", public_title="Checkout is slow")
    post_public(incident, actor, "resolved")


# (id, prior state, input, field at fault, words of the message, HTTP status)
CASES = [
    pytest.param(
        None,
        {
            "public_status": "investigating",
            "public_title": "Checkout slow",
            "components": {"checkout-db": "major_outage"},
        },
        "components",
        ["Unknown status page component(s): checkout-db", "checkout (Checkout)", "api (API)"],
        400,
        id="unknown component",
    ),
    pytest.param(
        None,
        {
            "public_status": "investigating",
            "public_title": "Checkout slow",
            "components": {"checkout": "on fire"},
        },
        "components",
        ["Unknown component status(es): checkout=on fire", "degraded_performance"],
        400,
        id="unknown component status",
    ),
    pytest.param(
        None,
        {"public_status": "investigating", "components": {"checkout": "major_outage"}},
        "public_title",
        ["needs a public title"],
        400,
        id="first public update without a public title",
    ),
    pytest.param(
        None,
        {"public_title": "Checkout slow"},
        "public_status",
        ["Updates to the public need a public status"],
        400,
        id="public without a public status",
    ),
    pytest.param(
        None,
        {"public_status": "resolved", "public_title": "Checkout slow"},
        "public_status",
        ["no open public incident", "nothing public to resolve"],
        400,
        id="a public incident cannot start resolved",
    ),
    pytest.param(
        resolved_public_incident,
        {"public_status": "investigating"},
        "public_resolved_action",
        ["“Checkout is slow” is resolved", "reopen it", "start a new public incident"],
        409,
        id="resolved public incident without a choice",
    ),
    pytest.param(
        resolved_public_incident,
        {"public_status": "investigating", "public_resolved_action": "new"},
        "public_title",
        ["needs a public title"],
        400,
        id="a new public incident without a title",
    ),
    pytest.param(
        resolved_public_incident,
        {"public_status": "resolved", "components": {"checkout": "major_outage"}},
        "components",
        ["already resolved", "cannot change component statuses"],
        409,
        id="a resolved follow-up changing components",
    ),
]


def _snapshot():
    return (
        StatusUpdate.objects.count(),
        Delivery.objects.count(),
        PublicIncidentUpdate.objects.count(),
    )


def _prepare(prior, incident, responder):
    if prior is not None:
        prior(incident, responder)
    mail.outbox.clear()
    return _snapshot()


def _assert_nothing_written(before):
    assert _snapshot() == before
    # The CS list was addressed too: nothing of this update may wait to be sent to it.
    assert not Delivery.objects.filter(
        update__kind="manual", destination__kind=Destination.Kind.EMAIL
    ).exists()
    assert mail.outbox == []


@pytest.mark.parametrize(("prior", "data", "field", "words", "status"), CASES)
def test_the_api_refuses_before_writing(
    as_user, responder, incident, prior, data, field, words, status
):
    before = _prepare(prior, incident, responder)
    body = {"message": "We are looking into it.", "audiences": ["cs", "public"], **data}

    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/", body, format="json"
    )

    assert response.status_code == status, response.json()
    errors = response.json()["errors"]
    assert list(errors) == [field]
    for word in words:
        assert word in errors[field][0]
    _assert_nothing_written(before)


def _picker_fields(components: dict) -> dict:
    """The picker's selects are named by public id; an unknown slug stands for a
    component removed while the form was open."""
    ids = dict(Component.objects.values_list("slug", "public_id"))
    return {f"component-{ids.get(key, key)}": value for key, value in components.items()}


@pytest.mark.parametrize(("prior", "data", "field", "words", "status"), CASES)
def test_the_form_refuses_before_writing(
    client, responder, incident, prior, data, field, words, status
):
    before = _prepare(prior, incident, responder)
    client.force_login(responder)
    form = {"message": "We are looking into it.", "audiences": ["cs", "public"]}
    form.update({k: v for k, v in data.items() if k != "components"})
    form.update(_picker_fields(data.get("components", {})))

    response = client.post(f"/incidents/{incident.pk}/communications/updates/", form)

    assert response.status_code == status
    html = response.content.decode()
    form_errors = response.context["form"].errors
    assert list(form_errors) == [field]
    for word in words:
        assert word in form_errors[field][0]
    assert "Update posted" not in html
    _assert_nothing_written(before)


@pytest.fixture
def slack(fake_slack, settings, responder):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # the response_url receiver is on 127.0.0.1
    fake_slack.add_user("URITA", responder.email)
    return fake_slack


@pytest.fixture
def answers():
    with ResponseUrlReceiver() as receiver:
        yield receiver


@pytest.fixture
def slack_command(client, django_capture_on_commit_callbacks, answers, monkeypatch, slack):
    """Send ``/incident <text>`` as Slack would, run the worker task, return the answer."""
    queued: list[int] = []
    monkeypatch.setattr(
        tasks.slack_request_handle_task, "apply_async", lambda args, **_: queued.append(args[0])
    )

    def run(text: str) -> str:
        body = command_body(text, user="URITA", response_url=answers.url())
        with django_capture_on_commit_callbacks(execute=True):
            assert signed_post(client, "/integrations/slack/commands/", body).status_code == 200
        for pk in queued:
            tasks.slack_request_handle_task.apply(args=(pk,)).get()
        queued.clear()
        return answers.texts()[-1]

    return run


def _slack_text(incident, data: dict) -> str:
    words = [f"update {incident.pk}", "to=cs,public"]
    if data.get("public_status"):
        words.append(f"public={data['public_status']}")
    if data.get("public_title"):
        words.append(f'title="{data["public_title"]}"')
    for key, value in data.get("components", {}).items():
        words.append(f'component="{key}:{value}"')
    if data.get("public_resolved_action"):
        words.append(f"if-resolved={data['public_resolved_action']}")
    return " ".join([*words, "We are looking into it."])


@pytest.mark.parametrize(("prior", "data", "field", "words", "status"), CASES)
def test_slack_refuses_before_writing(
    slack_command, responder, incident, prior, data, field, words, status
):
    before = _prepare(prior, incident, responder)

    answer = slack_command(_slack_text(incident, data))

    assert answer.startswith("Keel could not do that: ")
    for word in words:
        assert word in answer
    assert SlackRequest.objects.get().status == SlackRequest.Status.FAILED
    _assert_nothing_written(before)


def test_components_outside_a_public_update_are_refused(as_user, responder, incident):
    before = _snapshot()
    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Slow.", "audiences": ["cs"], "components": {"checkout": "major_outage"}},
        format="json",
    )
    assert response.status_code == 400
    assert "Public audience" in response.json()["errors"]["components"][0]
    _assert_nothing_written(before)


# ---- what is accepted is published ------------------------------------------


def test_the_form_picks_components_by_name_and_stores_slugs(
    client, responder, incident, components
):
    client.force_login(responder)

    response = client.post(
        f"/incidents/{incident.pk}/communications/updates/",
        {
            "message": "Checkout is slow for some customers.",
            "audiences": ["cs", "public"],
            "public_status": "investigating",
            "public_title": "Slow checkout",
            f"component-{components['checkout'].public_id}": "degraded_performance",
            f"component-{components['api'].public_id}": "",  # "No change"
        },
    )

    assert response.status_code == 302
    update = StatusUpdate.objects.get(kind="manual")
    assert update.components == {"checkout": "degraded_performance"}
    assert run_statuspage_deliveries(update) == [Delivery.Status.SENT]
    page = client.get(response["Location"]).content.decode()
    assert "Update posted to CS team, Public." in page


def test_the_api_takes_the_component_public_id(as_user, responder, incident, components):
    api = as_user(responder)
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {
            "message": "API errors.",
            "audiences": ["public"],
            "public_status": "identified",
            "public_title": "API errors",
            "components": {components["api"].public_id: "partial_outage"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["components"] == {"api": "partial_outage"}
    update = StatusUpdate.objects.get(pk=response.json()["id"])
    assert run_statuspage_deliveries(update) == [Delivery.Status.SENT]
    components["api"].refresh_from_db()
    assert components["api"].status == "partial_outage"


def test_slack_posts_a_public_update_by_component_name(slack_command, responder, incident):
    answer = slack_command(
        f'update {incident.pk} to=public public=investigating title="Slow checkout" '
        'component="Checkout:degraded performance" Checkout is slow.'
    )
    assert answer == f"Posted an update on #{incident.pk} (public)."
    update = StatusUpdate.objects.get(kind="manual")
    assert update.components == {"checkout": "degraded_performance"}
    assert update.message == "Checkout is slow."
    assert run_statuspage_deliveries(update) == [Delivery.Status.SENT]
    assert PublicIncident.objects.get().name == "Slow checkout"


def test_the_second_of_two_quick_updates_is_checked_against_the_first(responder, incident):
    """The first update is accepted but not yet on the page; the second needs no title."""
    first = services.update_post(
        incident=incident,
        message="Investigating.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="Slow checkout",
    )
    second = services.update_post(
        incident=incident,
        message="Found it.",
        actor=responder,
        audiences=["public"],
        public_status="identified",
    )
    assert run_statuspage_deliveries(first) == [Delivery.Status.SENT]
    assert run_statuspage_deliveries(second) == [Delivery.Status.SENT]
    assert PublicIncident.objects.get().status == "identified"


@pytest.mark.parametrize("action", ["reopen", "new"])
def test_a_resolved_public_incident_is_reopened_or_followed_by_a_new_one(
    responder, incident, action
):
    resolved_public_incident(incident, responder)
    title = {"new": "Checkout slow again"}.get(action, "")
    post_public(
        incident, responder, "investigating", public_resolved_action=action, public_title=title
    )

    publics = list(PublicIncident.objects.order_by("started_at", "id"))
    if action == "reopen":
        (public,) = publics
        assert public.status == "investigating" and public.resolved_at is None
        assert public.updates.count() == 3
    else:
        old, new = publics
        assert old.status == "resolved" and old.resolved_at is not None
        assert new.name == "Checkout slow again" and new.status == "investigating"
        assert new.updates.count() == 1


# ---- the worker checks again; replay refuses what can never succeed ---------


def test_the_worker_refuses_what_changed_since_and_replay_says_why(
    as_user, responder, incident, components
):
    update = services.update_post(
        incident=incident,
        message="Checkout is down.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="Checkout down",
        components={"checkout": "major_outage"},
    )
    components["checkout"].delete()  # someone removed it from the page meanwhile

    assert run_statuspage_deliveries(update) == [Delivery.Status.DEAD]
    delivery = update.deliveries.get()
    assert "Unknown status page component(s): checkout" in delivery.last_error
    assert not PublicIncident.objects.exists()

    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/deliveries/{delivery.pk}/replay/"
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "Replaying cannot help" in detail and "checkout" in detail
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD and delivery.attempts == 1


def test_a_dead_status_page_delivery_shows_why_and_what_fixes_it(
    client, responder, incident, components
):
    update = services.update_post(
        incident=incident,
        message="Checkout is down.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="Checkout down",
        components={"checkout": "major_outage"},
    )
    components["checkout"].delete()
    assert run_statuspage_deliveries(update) == [Delivery.Status.DEAD]
    client.force_login(responder)

    html = client.get(f"/incidents/{incident.pk}/communications/").content.decode()

    assert "Unknown status page component(s): checkout" in html
    assert "What fixes it:" in html and "post a corrected public update instead" in html


def test_the_form_preview_says_who_is_told_and_writes_nothing(client, responder, incident):
    client.force_login(responder)
    before = _snapshot()

    response = client.post(
        f"/incidents/{incident.pk}/communications/updates/",
        {
            "message": "Checkout is slow.",
            "audiences": ["cs", "public"],
            "public_status": "investigating",
            "public_title": "Slow checkout",
            f"component-{Component.objects.get(slug='checkout').public_id}": "partial_outage",
            "preview": "1",
        },
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-preview-audience="cs"' in html and 'data-preview-audience="public"' in html
    assert "<strong>Checkout</strong>: Operational → Partial outage" in html
    assert _snapshot() == before and mail.outbox == []
