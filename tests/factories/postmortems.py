"""Postmortem rows come from the services (they pre-fill); these helpers drive them."""

from incidents import services as incident_services
from incidents.lifecycle import ORDER
from postmortems import services
from postmortems.models import ActionItem, Postmortem, PostmortemTemplate
from tests.factories.incidents import UserFactory, severity


def default_template() -> PostmortemTemplate:
    """The default template comes from a data migration."""
    return PostmortemTemplate.objects.get(family="default", is_current=True)


def recovered_incident(*, actor=None, code: str = "SEV2", title: str = "Checkout errors"):
    """An incident declared and driven through recover, with a decision recorded."""
    actor = actor or UserFactory(username="rita", role="responder")
    incident = incident_services.incident_declare(
        title=title, severity=severity(code), actor=actor, summary="Card payments failed."
    )
    for stage in ORDER[1:3]:
        incident_services.incident_move(incident=incident, to=stage, actor=actor)
    incident_services.decision_record(
        incident=incident,
        options=["Roll back", "Fix forward"],
        chosen="Roll back",
        rationale="The previous build was known good.",
        actor=actor,
    )
    incident_services.incident_move(incident=incident, to="recover", actor=actor)
    incident.refresh_from_db()
    return incident


def started_postmortem(*, actor=None, incident=None, **kwargs) -> Postmortem:
    actor = actor or UserFactory(username="rita", role="responder")
    incident = incident or recovered_incident(actor=actor, **kwargs)
    return services.postmortem_start(incident=incident, actor=actor)


def big_postmortem(
    *, actor=None, events: int = 200, series: int = 20, points: int = 1_000, items: int = 50
) -> Postmortem:
    """The rendering benchmark's document: many timeline events, long metric series and
    many action items (written through the services, as users would)."""
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import TimelineEvent

    actor = actor or UserFactory(username="rita", role="responder")
    incident = recovered_incident(actor=actor, title="A big incident")
    now = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=TimelineEvent.Kind.NOTE,
            actor=actor,
            text=f"Observation {i}: error rate {i % 17}%",
            occurred_at=now - timedelta(seconds=events - i),
        )
        for i in range(events)
    )
    postmortem = services.postmortem_start(incident=incident, actor=actor)
    start = incident.started_at - timedelta(minutes=30)
    rows = [
        {
            "name": f"metric {m}",
            "unit": "ms",
            "before": 100,
            "during": 900,
            "after": 110,
            "threshold": 500,
            "series": [
                [(start + timedelta(seconds=10 * p)).isoformat(), 100 + (p * 37 + m) % 900]
                for p in range(points)
            ],
        }
        for m in range(series)
    ]
    item_rows = [
        {"title": f"Action {i}", "owner": actor.get_username(), "due_date": "2030-01-01",
         "term": "short" if i % 2 else "long", "kind": "prevent"}
        for i in range(items)
    ]  # fmt: skip
    services.postmortem_update(
        postmortem=postmortem,
        actor=actor,
        expected_version=postmortem.version,
        sections={"metrics": {"rows": rows}, "action_items": {"rows": item_rows}},
    )
    return Postmortem.objects.get(pk=postmortem.pk)


def postmortems_bulk(incidents, *, created_by, items: int = 0) -> list[Postmortem]:
    """A bare postmortem (no sections) for each of ``incidents`` and ``items`` action
    items each, in a few INSERTs: for the tests that the lists cost the same with 3
    or 300 rows."""
    template = default_template()
    made = Postmortem.objects.bulk_create(
        Postmortem(
            incident=incident,
            template=template,
            title=f"Postmortem: {incident.title}",
            created_by=created_by,
        )
        for incident in incidents
    )
    ActionItem.objects.bulk_create(
        ActionItem(postmortem=postmortem, title=f"Follow-up {n}", owner=created_by, position=n)
        for postmortem in made
        for n in range(items)
    )
    return made
