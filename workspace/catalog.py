"""Settings → Severities and Settings → Services: the writes that shape what
incidents are declared against (severities and their rules, teams, services and
owners). Each write goes through here with a history row naming the admin; a
removal that would break incidents, routes, postmortem templates or status page
components is refused with the reason in words (this module sits in the top layer
because it must see all of them)."""

from django.db import transaction
from django.utils.text import slugify

from common.exceptions import InvalidInput
from incidents.models import Service, Severity, Team
from notifications.models import Route
from postmortems.models import PostmortemTemplate
from statuspage.models import Component

UP, DOWN = "up", "down"
# A free rank while two severities swap theirs (rank is unique).
_SWAP_RANK = 32_000


def _save(row, actor, reason: str) -> None:
    row._history_user = actor
    row._change_reason = reason
    row.save()


def _unique_slug(model, name: str, *, exclude_pk=None) -> str:
    base = slugify(name)[:90] or model.__name__.lower()
    slug, n = base, 2
    while model.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


# ---- severities -----------------------------------------------------------------


@transaction.atomic
def severity_update(
    *,
    severity: Severity,
    actor,
    name: str,
    definition: str,
    required_response: str,
    postmortem_required: bool,
    update_interval_minutes: int,
    page_business_team: bool,
) -> Severity:
    """Edit a severity's words, its cadence and its rules. Applies to open incidents
    from now on (the cadence reminder and the closing check read the severity)."""
    severity.name = name
    severity.definition = definition
    severity.required_response = required_response
    severity.postmortem_required = postmortem_required
    severity.update_interval_minutes = update_interval_minutes
    severity.page_business_team = page_business_team
    severity.full_clean()
    _save(severity, actor, "edited in settings")
    return severity


@transaction.atomic
def severity_move(*, severity: Severity, direction: str, actor) -> bool:
    """Swap ``severity``'s rank with the next more (up) or less (down) severe one.
    False when it is already first or last."""
    if direction not in (UP, DOWN):
        raise InvalidInput("Move up or down.", field="direction")
    ranked = list(Severity.objects.select_for_update().order_by("rank"))
    index = next(i for i, s in enumerate(ranked) if s.pk == severity.pk)
    other_index = index - 1 if direction == UP else index + 1
    if not 0 <= other_index < len(ranked):
        return False
    mine, other = ranked[index], ranked[other_index]
    mine_rank, other_rank = mine.rank, other.rank
    mine.rank = _SWAP_RANK
    mine.save(update_fields=["rank"])  # the interim value: no history row of its own
    other.rank = mine_rank
    _save(other, actor, f"rank {other_rank} → {mine_rank}")
    mine.rank = other_rank
    _save(mine, actor, f"rank {mine_rank} → {other_rank}")
    severity.rank = other_rank
    return True


# ---- teams ----------------------------------------------------------------------


@transaction.atomic
def team_create(*, actor, name: str, description: str = "", members=()) -> Team:
    """A team; its slug comes from its name (unique, kept when it is renamed)."""
    team = Team(name=name, slug=_unique_slug(Team, name), description=description)
    team.full_clean()
    _save(team, actor, "added in settings")
    team.members.set(members)
    return team


@transaction.atomic
def team_update(*, team: Team, actor, name: str, description: str, members) -> Team:
    team.name, team.description = name, description
    team.full_clean()
    _save(team, actor, "edited in settings")
    team.members.set(members)
    return team


def team_remove_blockers(team: Team) -> list[str]:
    reasons = []
    if owned := list(team.services.values_list("name", flat=True)[:5]):
        reasons.append("it owns " + ", ".join(owned) + " (give them another owner first)")
    if PostmortemTemplate.objects.filter(team=team).exists():
        reasons.append("postmortem templates belong to it")
    return reasons


@transaction.atomic
def team_remove(*, team: Team, actor) -> None:
    """Delete a team that owns nothing (its action items keep their history)."""
    if reasons := team_remove_blockers(team):
        raise InvalidInput(f"{team.name} cannot be removed: " + "; ".join(reasons) + ".")
    team._history_user = actor
    team._change_reason = "removed in settings"
    team.delete()


# ---- services -------------------------------------------------------------------


@transaction.atomic
def service_create(
    *, actor, name: str, slug: str = "", description: str = "", owner_team=None, tier: int
) -> Service:
    """A service; without a slug, one from its name."""
    service = Service(
        name=name,
        slug=slug or _unique_slug(Service, name),
        description=description,
        owner_team=owner_team,
        tier=tier,
    )
    service.full_clean()
    _save(service, actor, "added in settings")
    return service


@transaction.atomic
def service_update(
    *, service: Service, actor, name: str, slug: str, description: str, owner_team, tier: int
) -> Service:
    service.name, service.slug, service.description = name, slug, description
    service.owner_team, service.tier = owner_team, tier
    service.full_clean()
    _save(service, actor, "edited in settings")
    return service


def service_remove_blockers(service: Service) -> list[str]:
    """What references the service, in words; empty when it can be removed."""
    reasons = []
    if incidents := service.incidents.count():
        reasons.append(f"{incidents} incident(s) name it")
    if routes := Route.objects.filter(services=service).count():
        reasons.append(f"{routes} routing rule(s) match it")
    if components := list(
        Component.objects.filter(services=service).values_list("name", flat=True)[:5]
    ):
        reasons.append("status page component(s) " + ", ".join(components) + " stand for it")
    return reasons


@transaction.atomic
def service_remove(*, service: Service, actor) -> None:
    """Delete a service nothing references (recorded changes keep theirs unset)."""
    if reasons := service_remove_blockers(service):
        raise InvalidInput(f"{service.name} cannot be removed: " + "; ".join(reasons) + ".")
    service._history_user = actor
    service._change_reason = "removed in settings"
    service.delete()
