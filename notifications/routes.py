"""Writes of routing rules (``Route``): create, edit, deactivate / activate and delete,
from Settings → Routing. Admin only; every write leaves a history row with its actor
and reason (the severities and services too: ``Route`` keeps m2m history)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from common.exceptions import InvalidInput
from common.roles import require_admin
from common.validators import single_line
from incidents.models import Service, Severity
from notifications.models import Audience, Route, UpdateKind

NAME_MAX = Route._meta.get_field("name").max_length
# What a rule may match: every kind of update but personal notices (never routed).
ROUTABLE_KINDS = [kind.value for kind in UpdateKind if kind != UpdateKind.PERSONAL]


def _checked(
    *, name: str, audience: Audience | None, update_kinds: Iterable[str]
) -> tuple[str, list[str]]:
    name = name.strip()
    if not name:
        raise InvalidInput("Give the rule a name.", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"A name is at most {NAME_MAX} characters.", field="name")
    try:
        single_line(name)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], field="name") from exc
    if audience is None:
        raise InvalidInput("Choose the audience this rule tells.", field="audience")
    if not audience.active:
        raise InvalidInput(f"{audience.name} is not an active audience.", field="audience")
    kinds = list(dict.fromkeys(update_kinds))
    unknown = [kind for kind in kinds if kind not in ROUTABLE_KINDS]
    if unknown:
        raise InvalidInput(f"Unknown kind of update: {unknown[0][:40]}.", field="update_kinds")
    # Stored in the order of the choices, so that the sentence reads the same every time.
    return name, [kind for kind in ROUTABLE_KINDS if kind in kinds]


def _write(
    route: Route,
    *,
    actor,
    reason: str,
    severities: Iterable[Severity],
    services: Iterable[Service],
) -> Route:
    route._history_user = actor
    route._change_reason = reason
    route.save()
    route.severities.set(list(severities))
    route.services.set(list(services))
    return route


@transaction.atomic
def route_create(
    *,
    actor,
    name: str,
    audience: Audience | None,
    severities: Iterable[Severity] = (),
    services: Iterable[Service] = (),
    update_kinds: Iterable[str] = (),
    only_public_updates: bool = False,
    active: bool = True,
) -> Route:
    """A new rule: ``audience`` hears updates of these severities on these services
    of these kinds (an empty filter matches everything)."""
    require_admin(actor, to="change routing")
    name, kinds = _checked(name=name, audience=audience, update_kinds=update_kinds)
    route = Route(
        name=name,
        audience=audience,
        update_kinds=kinds,
        only_public_updates=only_public_updates,
        active=active,
    )
    return _write(
        route,
        actor=actor,
        reason="routing rule added in Settings",
        severities=severities,
        services=services,
    )


@transaction.atomic
def route_update(
    *,
    route: Route,
    actor,
    name: str,
    audience: Audience | None,
    severities: Iterable[Severity] = (),
    services: Iterable[Service] = (),
    update_kinds: Iterable[str] = (),
    only_public_updates: bool = False,
    active: bool = True,
) -> Route:
    require_admin(actor, to="change routing")
    name, kinds = _checked(name=name, audience=audience, update_kinds=update_kinds)
    route = Route.objects.select_for_update().get(pk=route.pk)
    route.name, route.audience, route.update_kinds = name, audience, kinds
    route.only_public_updates, route.active = only_public_updates, active
    return _write(
        route,
        actor=actor,
        reason="routing rule edited in Settings",
        severities=severities,
        services=services,
    )


@transaction.atomic
def route_active_set(*, route: Route, active: bool, actor) -> Route:
    """Deactivate a rule (it stays listed, matching nothing) or activate it again."""
    require_admin(actor, to="change routing")
    route = Route.objects.select_for_update().get(pk=route.pk)
    route.active = active
    route._history_user = actor
    route._change_reason = (
        "routing rule activated in Settings" if active else "routing rule deactivated in Settings"
    )
    route.save(update_fields=["active", "updated_at"])
    return route


@transaction.atomic
def route_delete(*, route: Route, actor) -> str:
    """Delete a rule (its history keeps what it was); returns its name."""
    require_admin(actor, to="change routing")
    route = Route.objects.select_for_update().get(pk=route.pk)
    name = route.name
    route._history_user = actor
    route._change_reason = "routing rule deleted in Settings"
    route.delete()
    return name
