"""The postmortem's closing rules (registered with the incident lifecycle from
``PostmortemsConfig.ready``)."""

from django.db.models import Q

from postmortems.models import ActionItem, Postmortem


def has_published_postmortem(incident) -> bool:
    if getattr(incident, "pk", None) is None:  # unsaved: nothing can be published for it
        return False
    return Postmortem.objects.filter(
        incident_id=incident.pk, status=Postmortem.Status.PUBLISHED
    ).exists()


def action_items_blocker(incident) -> str | None:
    """Every action item (except won't-do) needs an owner and a due date before closing."""
    if getattr(incident, "pk", None) is None:
        return None
    missing = (
        ActionItem.objects.filter(postmortem__incident_id=incident.pk)
        .exclude(status=ActionItem.Status.WONT_DO)
        .filter(Q(owner__isnull=True) | Q(due_date__isnull=True))
        .count()
    )
    if missing:
        return f"{missing} action item(s) need an owner and a due date."
    return None
