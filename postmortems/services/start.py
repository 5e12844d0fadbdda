"""Starting an incident's postmortem, pre-filled from what the incident recorded."""

from django.db import transaction
from django.utils import timezone

from common.exceptions import Conflict
from incidents.models import Incident
from postmortems import sections as kinds
from postmortems.models import NAME_MAX, Postmortem, PostmortemTemplate, Section
from postmortems.services.templates import template_for
from postmortems.writes import audit, refresh_search_document, require_editor


@transaction.atomic
def postmortem_start(
    *, incident: Incident, actor, template: PostmortemTemplate | None = None
) -> Postmortem:
    """Start the incident's postmortem from ``template`` (the team's or the default
    one), pre-filled from what the incident recorded; writes the postmortem, its
    sections, the remediation options from decisions, and their history rows."""
    require_editor(actor)
    incident = Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        raise Conflict(
            f"Incident #{incident.pk} already has a postmortem.",
            field="incident",
            extra={"postmortem": existing.pk},
        )
    template = template or template_for(incident)
    now = timezone.now()
    postmortem = Postmortem(
        incident=incident,
        template=template,
        title=incident.title[:NAME_MAX],
        created_by=actor,
        last_saved_by=actor,
        last_saved_at=now,
    )
    audit(postmortem, actor=actor, reason="started")
    postmortem.save()
    for template_section in template.sections.order_by("position"):
        spec = kinds.SPECS[template_section.kind]
        content, generated = spec.prefill(template_section, incident)
        section = Section(
            postmortem=postmortem,
            position=template_section.position,
            key=template_section.key,
            title=template_section.title,
            kind=template_section.kind,
            help_text=template_section.help_text,
            content=content,
            generated=generated,
            updated_by=actor,
        )
        audit(section, actor=actor, reason="pre-filled")
        section.save()
        spec.started(postmortem, incident, actor=actor)
    refresh_search_document(postmortem)
    postmortem.save(update_fields=["search_document"])
    return postmortem
