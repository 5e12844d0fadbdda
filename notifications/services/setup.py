"""Channels, destinations and the default routes: resuming a paused channel,
adding a destination, the routes a fresh install starts with."""

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from common.enqueue import enqueue_on_commit
from common.exceptions import InvalidInput
from common.roles import require_admin
from incidents.models import Severity
from notifications import engine
from notifications.channels.webhook import validate_url
from notifications.defaults import DEFAULT_ROUTES
from notifications.models import (
    Audience,
    ChannelPause,
    Delivery,
    Destination,
    Route,
)


@transaction.atomic
def channel_resume(*, kind: str, actor) -> int:
    """Lift a channel pause (credentials fixed) and re-enqueue what it held back:
    team deliveries and subscriber notifications of that channel alike."""
    require_admin(actor, to="resume a paused channel")
    ChannelPause.objects.filter(kind=kind).delete()
    now = timezone.now()
    resumed = 0
    for producer in engine.producers():
        held = list(
            producer.model.objects.filter(
                **{producer.channel_field: kind}, status=Delivery.Status.FAILED
            )
        )
        for row in held:
            row.next_attempt_at = now
            row.updated_at = now
        bulk_update_with_history(
            held,
            producer.model,
            ["next_attempt_at", "updated_at"],
            default_user=actor,
            default_change_reason="channel resumed",
        )
        ids = [row.pk for row in held]
        enqueue_on_commit(producer.send_messages(ids), what=f"resumed {producer.name} rows")
        resumed += len(ids)
    return resumed


@transaction.atomic
def destination_create(
    *, audience_slug: str, kind: str, name: str, target: str, actor=None
) -> tuple[Destination, str]:
    """Add a channel to an audience; returns it with its webhook secret (shown once).
    Webhook URLs are validated (http(s), no private addresses unless allowed)."""
    audience = Audience.objects.filter(slug=audience_slug).first()
    if audience is None:
        raise InvalidInput(f"Unknown audience '{audience_slug}'.", field="audience")
    if kind not in Destination.Kind.values:
        raise InvalidInput(f"Unknown destination kind '{kind}'.", field="kind")
    if kind == Destination.Kind.WEBHOOK:
        validate_url(target, resolve=False)
    existing = Destination.objects.filter(audience=audience, kind=kind, target=target).first()
    if existing is not None:
        return existing, ""
    secret = Destination.new_secret() if kind == Destination.Kind.WEBHOOK else ""
    destination = Destination(audience=audience, kind=kind, name=name, target=target, secret=secret)
    destination._history_user = actor
    destination._change_reason = "destination added"
    destination.save()
    return destination, secret


@transaction.atomic
def routes_default_ensure(*, actor=None) -> list[Route]:
    """Create each default route (``notifications.defaults``) that is missing, by
    name; routes that exist, edited or not, are left as they are. Returns those created."""
    created = []
    for default in DEFAULT_ROUTES:
        if Route.objects.filter(name=default.name).exists():
            continue
        route = Route(
            name=default.name,
            audience=Audience.objects.get(slug=default.audience),
            update_kinds=list(default.update_kinds),
            only_public_updates=default.only_public_updates,
        )
        route._history_user = actor
        route._change_reason = "default route"
        route.save()
        if default.severities:
            route.severities.set(Severity.objects.filter(code__in=default.severities))
        created.append(route)
    return created
