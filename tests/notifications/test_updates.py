"""Status updates: routing, the outbox rows written with them, the API, cadence."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications import services
from notifications.models import (
    CadenceReminder,
    Delivery,
    Destination,
    PublicStatus,
    StatusUpdate,
    UpdateKind,
)
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def destinations(db):
    return {
        slug: DestinationFactory(
            audience=audience(slug), kind=Destination.Kind.EMAIL, target=f"{slug}@example.test"
        )
        for slug in ("responders", "cs", "business", "public")
    }


def declare(actor, code="SEV3", **kwargs):
    return incident_services.incident_declare(
        title="Search is slow", severity=severity(code), actor=actor, **kwargs
    )


def routed(incident, kind=UpdateKind.MANUAL, public=False) -> list[str]:
    return [a.slug for a in services.audiences_routed(incident=incident, kind=kind, public=public)]


def test_routing_by_service(responder):
    from notifications.models import Route

    payments = ServiceFactory(slug="payments")
    route = Route.objects.create(name="Payments → business", audience=audience("business"))
    route.services.set([payments])

    assert "business" in routed(declare(responder, services=[payments]))
    assert "business" not in routed(declare(responder, services=[ServiceFactory()]))


def test_an_update_writes_one_delivery_per_destination_and_a_timeline_event(
    responder, destinations
):
    incident = declare(responder, "SEV1")
    extra = DestinationFactory(audience=audience("business"), kind=Destination.Kind.EMAIL)

    update = services.update_post(
        incident=incident,
        message="Rolling back.",
        actor=responder,
        audiences=["responders", "business"],
    )

    assert sorted(a.slug for a in update.audiences.all()) == ["business", "responders"]
    assert sorted(d.destination_id for d in update.deliveries.all()) == sorted(
        [destinations["responders"].pk, destinations["business"].pk, extra.pk]
    )
    assert {d.status for d in update.deliveries.all()} == {Delivery.Status.PENDING}
    event = incident.events.get(kind=TimelineEvent.Kind.STATUS_UPDATE)
    assert event.actor == responder and event.data["update"] == update.pk


def test_audience_wording_is_per_audience(responder, destinations):
    incident = incident_services.incident_update(
        incident=declare(responder, "SEV1"),
        actor=responder,
        data={"affected_features": "search, filters", "affected_users_count": 1200},
    )
    update = services.update_post(
        incident=incident,
        message="Search results are delayed.",
        actor=responder,
        audiences=["cs", "business"],
        public_status="identified",
    )
    texts = {d.destination.audience.slug: d.rendered_text for d in update.deliveries.all()}
    assert texts["cs"].startswith("Customer impact: search, filters (Identified)")
    assert "Impact: 1200 users" in texts["business"]


def test_an_update_cannot_say_postmortem_which_only_the_status_page_sets(responder, destinations):
    incident = declare(responder)
    written = StatusUpdate.objects.count()  # the declaration's own
    with pytest.raises(InvalidInput) as error:
        services.update_post(
            incident=incident,
            message="x",
            actor=responder,
            audiences=["public"],
            public_status=PublicStatus.POSTMORTEM,
            public_title="Search is slow",
        )
    assert error.value.field == "public_status"
    assert StatusUpdate.objects.count() == written


def test_the_first_public_update_needs_a_public_title(responder, destinations):
    incident = declare(responder)
    with pytest.raises(InvalidInput) as error:
        services.update_post(
            incident=incident,
            message="x",
            actor=responder,
            audiences=["public"],
            public_status="investigating",
        )
    assert error.value.field == "public_title"
    services.update_post(
        incident=incident,
        message="We are looking into it.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="Search delays",
    )
    # Later public updates reuse the title.
    services.update_post(
        incident=incident,
        message="Fixed.",
        actor=responder,
        audiences=["public"],
        public_status="resolved",
    )


def test_viewers_cannot_post_updates(viewer, responder):
    with pytest.raises(NotAllowed):
        services.update_post(incident=declare(responder), message="hi", actor=viewer)


def test_api_posts_an_update_and_lists_deliveries(as_user, responder, viewer, destinations):
    incident = declare(responder, "SEV2")
    client = as_user(responder)
    next_update = (timezone.now() + timedelta(minutes=30)).isoformat()

    response = client.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {
            "message": "Identified a bad deploy.",
            "audiences": ["responders", "cs"],
            "public_status": "identified",
            "next_update_at": next_update,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="update-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["audiences"] == ["responders", "cs"]
    assert body["components"] == {}  # component statuses go only to the public
    assert {d["audience"] for d in body["deliveries"]} == {"responders", "cs"}

    replay = client.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {
            "message": "Identified a bad deploy.",
            "audiences": ["responders", "cs"],
            "public_status": "identified",
            "next_update_at": next_update,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="update-1",
    )
    assert replay.json()["id"] == body["id"]
    assert StatusUpdate.objects.filter(kind="manual").count() == 1

    deliveries = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/deliveries/")
    assert deliveries.status_code == 200
    assert {d["status"] for d in deliveries.json()} == {"pending"}
    assert (
        as_user(viewer)
        .post(f"/api/v1/incidents/{incident.pk}/updates/", {"message": "x"}, format="json")
        .status_code
        == 403
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "x" * 4001}, "message"),
        ({"message": ""}, "message"),
        ({"message": "ok", "audiences": ["nobody"]}, "audiences"),
        ({"message": "ok", "public_status": "on_fire"}, "public_status"),
        (
            {"message": "ok", "audiences": ["public"], "public_status": "investigating"},
            "public_title",
        ),
        ({"message": "ok", "next_update_at": "2001-01-01T00:00:00Z"}, "next_update_at"),
        ({"message": "ok", "components": {"x" * 101: "major_outage"}}, "components"),
    ],
)
def test_api_rejects_bad_updates_naming_the_field(as_user, responder, body, field):
    incident = declare(responder)
    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/", body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_private_incident_updates_are_hidden(as_user, responder):
    incident = declare(responder, private=True)
    outsider = UserFactory(role="responder")
    response = as_user(outsider).get(f"/api/v1/incidents/{incident.pk}/deliveries/")
    assert response.status_code == 404


def test_replay_through_the_api(as_user, responder, destinations):
    incident = declare(responder)
    update = services.update_post(incident=incident, message="Hi.", actor=responder)
    delivery = update.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.DEAD, attempts=8, total_attempts=8
    )
    client = as_user(responder)

    response = client.post(
        f"/api/v1/incidents/{incident.pk}/deliveries/{delivery.pk}/replay/", format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    # A fresh retry budget, but the adapters still know it was attempted before.
    delivery.refresh_from_db()
    assert delivery.attempts == 0 and delivery.total_attempts == 8
    again = client.post(f"/api/v1/incidents/{incident.pk}/deliveries/{delivery.pk}/replay/")
    assert again.status_code == 400


def test_cadence_reports_overdue_audiences_and_reminds_once(as_user, responder, destinations):
    incident = declare(responder, "SEV1")  # SEV1: every 30 minutes; declaring told CS too
    services.update_post(
        incident=incident, message="Investigating.", actor=responder, audiences=["business"]
    )
    later = timezone.now() + timedelta(minutes=31)

    assert services.cadence_remind(now=later) == 2  # CS and business, not responders
    assert services.cadence_remind(now=later + timedelta(minutes=1)) == 0
    reminders = StatusUpdate.objects.filter(kind=UpdateKind.REMINDER).order_by("message")
    assert [r.message.split(":")[1].split(" was")[0].strip() for r in reminders] == [
        "Business team",
        "CS team",
    ]
    assert {a.slug for r in reminders for a in r.audiences.all()} == {"responders"}
    assert CadenceReminder.objects.count() == 2

    rows = as_user(responder).get(f"/api/v1/incidents/{incident.pk}/cadence/").json()
    business = next(row for row in rows if row["audience"] == "business")
    assert business["overdue"] is False  # measured against "now", not the future
    assert business["time_to_first_update_seconds"] >= 0


def test_a_promised_next_update_sets_the_due_time(responder, destinations):
    from notifications.cadence import cadence_for

    incident = declare(responder, "SEV4")  # every 240 minutes by default
    promise = timezone.now() + timedelta(minutes=10)
    services.update_post(
        incident=incident,
        message="Next at :10",
        actor=responder,
        audiences=["cs"],
        next_update_at=promise,
    )
    rows = {row.audience.slug: row for row in cadence_for(incident=incident, now=promise)}
    assert rows["cs"].due_at == promise
    late = {
        r.audience.slug: r
        for r in cadence_for(incident=incident, now=promise + timedelta(seconds=1))
    }
    assert late["cs"].overdue


def test_cadence_names_each_audiences_first_and_last_update(responder, destinations):
    from notifications.cadence import cadence_for

    incident = declare(responder, "SEV4")
    posted = [
        services.update_post(incident=incident, message=f"{n}", actor=responder, audiences=slugs)
        for n, slugs in enumerate([["cs"], ["business"], ["cs", "business"], ["cs"]])
    ]
    rows = {row.audience.slug: row for row in cadence_for(incident=incident, now=timezone.now())}

    assert rows["cs"].first_update_at == posted[0].created_at
    assert rows["cs"].last_update_at == posted[3].created_at
    assert rows["business"].first_update_at == posted[1].created_at
    assert rows["business"].last_update_at == posted[2].created_at


def test_declare_stage_and_severity_changes_fan_out_automatically(responder, destinations):
    incident = declare(responder, "SEV3")
    incident = incident_services.incident_move(incident=incident, to="judge", actor=responder)
    incident = incident_services.incident_update(
        incident=incident, actor=responder, data={"severity": severity("SEV1")}
    )

    updates = list(StatusUpdate.objects.filter(incident=incident).order_by("pk"))
    assert [u.kind for u in updates] == ["declared", "stage", "severity"]
    assert updates[1].message == "Moved: Judge"
    assert updates[2].message == "Severity SEV3 → SEV1"
    # A SEV3 declared reaches CS too; a stage note only the responders; once SEV1, the
    # business team hears too (tests/notifications/test_default_routes.py has the table).
    assert [sorted(a.slug for a in u.audiences.all()) for u in updates] == [
        ["cs", "responders"],
        ["responders"],
        ["business", "cs", "responders"],
    ]
    assert all(u.deliveries.exists() for u in updates)
    # The timeline already has the declare/move/severity events; no duplicate update events.
    assert not incident.events.filter(kind=TimelineEvent.Kind.STATUS_UPDATE).exists()


def test_private_incidents_are_routed_nowhere_unless_addressed_deliberately(
    responder, destinations
):
    incident = declare(responder, "SEV1", private=True)
    incident = incident_services.incident_move(incident=incident, to="judge", actor=responder)

    assert routed(incident) == [] and routed(incident, public=True) == []
    assert not Delivery.objects.exists()  # declare and the move told nobody
    update = services.update_post(
        incident=incident, message="Contained.", actor=responder, audiences=["responders"]
    )
    assert [d.destination.audience.slug for d in update.deliveries.all()] == ["responders"]


@pytest.mark.parametrize("template", ["Incident {", "{0}", "{title.x}", "{nope}", "{title!r}"])
def test_a_broken_audience_template_is_refused_and_never_blocks_an_update(
    responder, destinations, template
):
    from django.core.exceptions import ValidationError

    from notifications.models import Audience

    cs = audience("cs")
    cs.message_template = template
    with pytest.raises(ValidationError) as error:
        cs.full_clean()
    assert "message_template" in error.value.message_dict
    Audience.objects.filter(pk=cs.pk).update(message_template=template)  # e.g. an old row

    update = services.update_post(
        incident=declare(responder), message="Still fine.", actor=responder, audiences=["cs"]
    )

    assert "Still fine." in update.deliveries.get().rendered_text
