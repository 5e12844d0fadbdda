"""Postmortem rows come from the services (they pre-fill); these helpers drive them."""

from incidents import services as incident_services
from incidents.lifecycle import ORDER
from postmortems import services
from postmortems.models import Postmortem, PostmortemTemplate
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
