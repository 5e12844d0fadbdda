"""Failures seen where the responder is: each way a delivery can be stuck or dead,
said in plain words with what fixes it, on the Overview and the incident list; a
Replay that cannot help refused with the reason (web and API) and audited; and
"posted" said only of what was accepted."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications import engine, outbox, problems, services
from notifications.channels.base import Outcome, SendResult
from notifications.models import ChannelPause, CircuitBreaker, Delivery, Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db
Status = Delivery.Status


@pytest.fixture
def incident(responder):
    return incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV4"), actor=responder
    )


@pytest.fixture
def cs_list(db):
    return DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, name="CS list", target="cs@x.test"
    )


@pytest.fixture
def slack(db):
    return DestinationFactory(
        audience=audience("responders"), kind=Destination.Kind.SLACK, name="Slack #incidents"
    )


def post(incident, actor, audiences):
    return services.update_post(
        incident=incident, message="Rolling back.", actor=actor, audiences=audiences
    )


def fail(delivery: Delivery, result: SendResult) -> Delivery:
    """Record ``result`` as the outcome of an attempt of ``delivery``, as the worker does."""
    delivery, early = engine.claim(outbox.DELIVERIES, delivery.pk)
    assert early is None
    engine.record(outbox.DELIVERIES, delivery.pk, result, attempt=delivery.attempts)
    delivery.refresh_from_db()
    return delivery


def only(problem_list):
    (problem,) = problem_list
    return problem


def replay_refused(as_user, actor, delivery) -> str:
    response = as_user(actor).post(
        f"/api/v1/incidents/{delivery.update.incident_id}/deliveries/{delivery.pk}/replay/"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "never_deliverable"
    return response.json()["detail"]


def test_a_refused_email_says_fix_the_list_address_and_replay_waits_for_the_fix(
    as_user, responder, incident, cs_list
):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    delivery = fail(
        delivery, SendResult(Outcome.PERMANENT, error="Recipients refused: {'cs@x.test'}")
    )
    assert delivery.status == Status.DEAD and delivery.failure == Delivery.Failure.PERMANENT

    problem = only(problems.problems_for(incident=incident))
    assert problem.state == "dead" and not problem.replayable
    assert problem.reason.startswith("The mail server refused it for good: Recipients refused")
    assert "fix the email list address" in problem.action

    detail = replay_refused(as_user, responder, delivery)
    assert "refused it for good" in detail and "fix the email list address" in detail
    delivery.refresh_from_db()
    assert delivery.status == Status.DEAD
    refusal = incident.events.filter(kind=TimelineEvent.Kind.DELIVERY_REPLAY_REFUSED).latest("pk")
    assert refusal.actor == responder and refusal.data["replay"] is False
    assert "refused" in refusal.text and refusal.data["delivery"] == str(delivery.pk)

    # The admin fixes the address: now a Replay can help, and is taken.
    cs_list.target = "cs-team@x.test"
    cs_list.save()
    assert only(problems.problems_for(incident=incident)).replayable
    replayed = services.delivery_replay(delivery=delivery, actor=responder)
    assert replayed.status == Status.PENDING


def test_a_paused_channel_holds_its_deliveries_and_says_an_admin_must_resume_it(
    as_user, client, responder, incident, slack, cs_list
):
    ChannelPause.objects.create(
        kind=Destination.Kind.SLACK, reason="invalid_auth", paused_at=timezone.now()
    )
    update = post(incident, responder, ["responders", "cs"])

    notice = problems.posted_notice(update)
    assert notice.startswith("Update posted to CS team.")  # not to the responders
    assert "Held for Responders (Slack #incidents): Slack channel is paused: invalid_auth" in notice
    assert "resume the Slack channel" in notice

    delivery = update.deliveries.get(destination=slack)
    outbox.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    problem = only(problems.problems_for(incident=incident))
    assert problem.state == "held" and "an admin must fix the credentials and resume" in (
        problem.action.lower()
    )
    assert "resume the Slack channel" in replay_refused(as_user, responder, delivery)

    client.force_login(responder)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-problem="held"' in page and "resume the Slack channel" in page


def test_a_gone_destination_is_refused_until_an_admin_re_enables_it(
    as_user, responder, incident, slack
):
    delivery = post(incident, responder, ["responders"]).deliveries.get()
    delivery = fail(delivery, SendResult(Outcome.GONE, error="Slack: channel_not_found"))
    slack.refresh_from_db()
    assert delivery.status == Status.DEAD and not slack.enabled

    problem = only(problems.problems_for(incident=incident))
    assert problem.reason == "Slack #incidents is disabled: Slack: channel_not_found"
    assert "fix the Slack channel" in problem.action and "re-enable" in problem.action
    assert "re-enable it first" in replay_refused(as_user, responder, delivery)


def test_replay_is_refused_once_the_incident_is_private_for_that_audience(
    as_user, responder, incident, cs_list
):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    delivery = fail(delivery, SendResult.retry("timed out"))
    incident_services.incident_update(incident=incident, actor=responder, data={"private": True})

    assert "The incident is private now" in replay_refused(as_user, responder, delivery)


def test_transient_failures_are_stuck_then_dead_and_replay_can_help(responder, incident, cs_list):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    delivery = fail(delivery, SendResult.retry("Connection refused"))
    assert problems.problems_for(incident=incident) == []  # young: simply retrying

    later = timezone.now() + timedelta(minutes=5)
    problem = only(problems.problems_for(incident=incident, now=later))
    assert problem.state == "stuck" and problem.replayable
    assert problem.reason.startswith("Still failing after 1 attempt over 5m")

    Delivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD, attempts=outbox.MAX_ATTEMPTS)
    problem = only(problems.problems_for(incident=incident))
    assert problem.reason == f"Gave up after {outbox.MAX_ATTEMPTS} attempts: Connection refused"
    assert services.delivery_replay(delivery=delivery, actor=responder).status == Status.PENDING


def test_an_open_breaker_holds_a_delivery_and_says_keel_retries(responder, incident, cs_list):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    CircuitBreaker.objects.create(
        key=f"destination:{cs_list.pk}",
        consecutive_failures=5,
        opened_until=timezone.now() + timedelta(seconds=30),
        last_failure="SMTPServerDisconnected",
    )
    problem = only(problems.problems_for(incident=incident))
    assert problem.delivery == delivery and problem.state == "held"
    assert "failed 5 times in a row (SMTPServerDisconnected)" in problem.reason
    assert problem.action.startswith("Keel retries by itself")


def test_a_pending_delivery_no_worker_took_is_stuck(responder, incident, cs_list):
    post(incident, responder, ["cs"])
    later = timezone.now() + timedelta(minutes=2)
    problem = only(problems.problems_for(incident=incident, now=later))
    assert problem.state == "stuck" and "no worker has picked it up" in problem.reason


def test_sent_and_deliberately_withheld_deliveries_are_no_problem(responder, incident, cs_list):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    assert outbox.delivery_attempt(delivery.pk).status == Status.SENT
    assert problems.problems_for(incident=incident, now=timezone.now() + timedelta(hours=1)) == []


def test_the_incident_list_marks_incidents_with_delivery_problems_in_fixed_queries(
    client, responder, incident, cs_list, django_assert_max_num_queries
):
    quiet = incident_services.incident_declare(
        title="All fine", severity=severity("SEV4"), actor=responder
    )
    for _ in range(3):
        others = incident_services.incident_declare(
            title="Also broken", severity=severity("SEV4"), actor=responder
        )
        fail(
            post(others, responder, ["cs"]).deliveries.get(),
            SendResult(Outcome.PERMANENT, error="Recipients refused"),
        )
    fail(
        post(incident, responder, ["cs"]).deliveries.get(),
        SendResult(Outcome.PERMANENT, error="Recipients refused"),
    )

    found = problems.problems_by_incident(incident_ids=[incident.pk, quiet.pk])
    assert list(found) == [incident.pk]

    client.force_login(responder)
    with django_assert_max_num_queries(25):
        page = client.get("/incidents/").content.decode()
    assert page.count("data-delivery-problem") == 4
    assert "1 delivery not sent" in page
    assert "CS team: The mail server refused it for good: Recipients refused" in page


def test_an_incident_with_many_deliveries_in_trouble_is_judged_on_its_oldest_few(
    client, responder, viewer, incident, cs_list
):
    """With the workers down an incident may have thousands of deliveries stuck: the
    list and the CS desk judge its oldest ``MARKED_PER_INCIDENT`` and say more may be."""
    extra = problems.MARKED_PER_INCIDENT + 3
    for _ in range(extra):
        post(incident, responder, ["cs"])
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert Delivery.objects.filter(update__incident=incident).count() == extra

    marked = problems.problems_by_incident(incident_ids=[incident.pk])[incident.pk]
    assert len(marked) == problems.MARKED_PER_INCIDENT and marked.unjudged == 3
    assert {problem.state for problem in marked} == {"stuck"}
    assert len(problems.problems_for(incident=incident)) == extra  # the incident's own page

    client.force_login(responder)
    page = client.get("/incidents/").content.decode()
    assert f"{problems.MARKED_PER_INCIDENT}+ deliveries not sent" in page
    assert "3 more may be stuck: see the incident" in page

    client.force_login(viewer)
    desk = client.get("/cs/").content.decode()
    assert desk.count("CS team (Not sent yet after 1h") == problems.MARKED_PER_INCIDENT
    assert "; and 3 more deliveries may be stuck." in desk

    # The Overview's banner and the tab judge every one, reading only what they show:
    # no deferred column is read back per delivery.
    client.force_login(responder)

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    pages = [f"/incidents/{incident.pk}/", f"/incidents/{incident.pk}/communications/"]
    before = [queries(url) for url in pages]
    for _ in range(5):
        post(incident, responder, ["cs"])
    Delivery.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert [queries(url) for url in pages] == before


def test_the_cs_desk_says_when_a_team_was_not_reached(client, responder, viewer, cs_list):
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), actor=responder
    )
    delivery = Delivery.objects.get(update__incident=incident, destination=cs_list)  # declared
    fail(delivery, SendResult(Outcome.PERMANENT, error="Recipients refused"))

    client.force_login(viewer)
    page = client.get("/cs/").content.decode()
    assert "Not every team was reached:" in page
    assert "CS team (The mail server refused it for good: Recipients refused)" in page


def test_the_deliveries_api_says_why_and_what_fixes_it(as_user, responder, incident, cs_list):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    fail(delivery, SendResult(Outcome.PERMANENT, error="Recipients refused"))

    (row,) = as_user(responder).get(f"/api/v1/incidents/{incident.pk}/deliveries/").json()
    assert row["status"] == "dead" and row["failure"] == "permanent"
    assert row["problem"]["state"] == "dead" and row["problem"]["replayable"] is False
    assert "fix the email list address" in row["problem"]["action"]


def test_the_updates_api_says_the_same_of_each_updates_deliveries(
    as_user, responder, incident, cs_list
):
    delivery = post(incident, responder, ["cs"]).deliveries.get()
    fail(delivery, SendResult(Outcome.PERMANENT, error="Recipients refused"))

    client = as_user(responder)
    (in_update,) = [
        row
        for update in client.get(f"/api/v1/incidents/{incident.pk}/updates/").json()
        for row in update["deliveries"]
        if row["id"] == str(delivery.pk)
    ]
    (listed,) = [
        row
        for row in client.get(f"/api/v1/incidents/{incident.pk}/deliveries/").json()
        if row["id"] == str(delivery.pk)
    ]
    assert in_update["problem"] == listed["problem"]
    assert in_update["problem"]["state"] == "dead"


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_the_deliveries_api_rows_are_what_the_serializer_writes(
    as_user, responder, incident, cs_list, slack, zone
):
    """The list's plain rows (notifications.apis.delivery_rows) and the problems judged
    on the page as loaded are what DeliveryOutput wrote with the problems read apart."""
    from notifications import selectors
    from notifications.apis import DeliveryOutput

    first = post(incident, responder, ["cs", "responders"]).deliveries.order_by("pk")
    fail(first[0], SendResult(Outcome.PERMANENT, error="Recipients refused"))
    second = post(incident, responder, ["cs"]).deliveries.get()
    fail(second, SendResult.retry("Connection refused"))
    Delivery.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with timezone.override(zone):
        rows = as_user(responder).get(f"/api/v1/incidents/{incident.pk}/deliveries/").json()
        loaded = list(
            selectors.deliveries_for(incident=incident).order_by(
                "created_at", "destination__name", "pk"
            )
        )
        found = {p.delivery.pk: p for p in problems.problems_for(incident=incident)}
        expected = DeliveryOutput(loaded, many=True, context={"problems": found}).data
    assert rows == [dict(row) for row in expected]
    assert len(rows) == 3 and sum(row["problem"] is not None for row in rows) == 2


def test_the_communications_deliveries_rows_are_escaped_and_offer_replay_to_drivers(
    client, responder, viewer, incident
):
    """The tab's rows (notifications.deliveries_html): escaped, a Replay form with the
    page's CSRF token for those who drive incidents, neither it nor the advice for a
    viewer."""
    named = DestinationFactory(
        audience=audience("cs"),
        kind=Destination.Kind.EMAIL,
        name="CS <list> & co",
        target="x@x.test",
    )
    delivery = post(incident, responder, ["cs"]).deliveries.get(destination=named)
    fail(delivery, SendResult.retry("<b>refused</b>"))
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD)
    url = f"/incidents/{incident.pk}/communications/"
    client.force_login(responder)
    page = client.get(url).content.decode()
    assert "CS &lt;list&gt; &amp; co <span" in page and "<b>refused</b>" not in page
    assert '<tr data-status="dead">' in page
    replay = f'action="/incidents/{incident.pk}/communications/deliveries/{delivery.pk}/replay/"'
    assert replay in page
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="' in page
    assert "<strong data-advice>What fixes it:</strong>" in page
    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert replay not in page and "data-advice" not in page
    assert "Gave up after" in page and "&lt;b&gt;refused&lt;/b&gt;" in page
