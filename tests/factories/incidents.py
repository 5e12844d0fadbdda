"""Factories for inert rows. Lifecycle states come from the services, not from here."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from common import roles
from incidents.models import Change, Decision, Incident, Service, Severity, Team, TimelineEvent


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("keel-test-pass")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """``UserFactory(role="responder" | "viewer" | "admin")``."""
        if not create or not extracted:
            return
        group_name = {
            "responder": roles.RESPONDERS,
            "viewer": roles.VIEWERS,
            "admin": roles.ADMINS,
        }[extracted]
        self.groups.add(Group.objects.get_or_create(name=group_name)[0])
        if extracted == "admin":
            self.is_staff = True
            self.save(update_fields=["is_staff"])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory)
    tier = Service.Tier.IMPORTANT


def severity(code: str = "SEV2") -> Severity:
    """The seeded severities (data migration) are the real ones; fetch by code."""
    return Severity.objects.get(code=code)


class SeverityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Severity
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"X{n}")
    name = factory.Sequence(lambda n: f"Custom {n}")
    rank = factory.Sequence(lambda n: 100 + n)
    definition = "A custom severity for tests."
    required_response = "None."


class ChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Change

    title = factory.Sequence(lambda n: f"Deploy {n}")
    reference = factory.Sequence(lambda n: f"v1.{n}.0")
    deployed_at = factory.LazyFunction(timezone.now)


class IncidentFactory(factory.django.DjangoModelFactory):
    """An incident in **detect**, as ``incident_declare`` would leave it, minus the events."""

    class Meta:
        model = Incident
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Checkout errors {n}")
    summary = "Elevated 5xx on checkout."
    severity = factory.LazyFunction(lambda: severity("SEV2"))
    detected_at = factory.LazyFunction(timezone.now)
    started_at = factory.LazyAttribute(lambda o: o.detected_at)
    created_by = factory.SubFactory(UserFactory, role="responder")
    detected_by = factory.SelfAttribute("created_by")
    commander = factory.SelfAttribute("created_by")


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    incident = factory.SubFactory(IncidentFactory)
    kind = TimelineEvent.Kind.NOTE
    occurred_at = factory.LazyFunction(timezone.now)
    text = "A note."


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    incident = factory.SubFactory(IncidentFactory)
    options = ["Roll back", "Fix forward"]
    chosen = "Roll back"
    rationale = "Fastest known-good state."
    decided_at = factory.LazyFunction(timezone.now)


def incidents_bulk(
    count: int, *, created_by, services=(), events: int = 0, **fields
) -> list[Incident]:
    """``count`` incidents (and ``events`` notes each) in a few INSERTs, for the tests
    that a list costs the same with 3 or 300 rows. Each is a minute older than the one
    before it unless ``detected_at`` is given (then they share it: the keyset's tie)."""
    now = timezone.now()
    built = []
    for position in range(count):
        detected_at = fields.get("detected_at") or now - timedelta(minutes=position)
        built.append(
            IncidentFactory.build(created_by=created_by, **{**fields, "detected_at": detected_at})
        )
    made = Incident.objects.bulk_create(built)
    links = Incident.services.through
    links.objects.bulk_create(
        links(incident_id=incident.pk, service_id=service.pk)
        for incident in made
        for service in services
    )
    TimelineEvent.objects.bulk_create(
        TimelineEventFactory.build(incident=incident, text=f"Note {n}")
        for incident in made
        for n in range(events)
    )
    return made


def history_in_every_stream(incident, responder, rounds: int) -> None:
    """History in all three streams of the audit trail, ``rounds`` times: the
    incident's edits, decisions, revised notes (through the services, as people write
    them)."""
    from incidents import services

    for n in range(rounds):
        services.incident_update(incident=incident, actor=responder, data={"title": f"Edit {n}"})
        services.decision_record(
            incident=incident, options=["a", "b"], chosen="a", rationale=f"r{n}", actor=responder
        )
        note = services.note_add(incident=incident, text=f"note {n}", actor=responder)
        services.note_edit(event=note, text=f"note {n}, corrected", actor=responder)
