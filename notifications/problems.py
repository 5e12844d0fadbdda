"""Deliveries in trouble, in the responder's words: why a delivery has not reached
its audience and what fixes it. Reads only.

Dead, held (its channel is paused, its breaker open, its destination disabled)
or stuck (still failing, or not yet sent, past ``KEEL_DELIVERY_WAITING_BANNER_SECONDS``)
deliveries are problems; a delivery on its way, sent, or deliberately not sent
(the incident is private now) is not. The same diagnosis feeds the incident
Overview, the incident list marker and the refusal of a Replay that cannot help.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from common.formatting import format_duration
from notifications.models import ChannelPause, CircuitBreaker, Delivery, Destination

Status = Delivery.Status
Failure = Delivery.Failure
Kind = Destination.Kind

# What an admin changes so that a destination of this kind can take the message.
_FIX_DESTINATION = {
    Kind.EMAIL: "an admin must fix the email list address in the audience's destinations",
    Kind.SLACK: "an admin must fix the Slack channel (it exists, the Keel bot is in it) "
    "in the audience's destinations",
    Kind.WEBHOOK: "an admin must fix the webhook URL, or the receiver must accept the call",
    Kind.STATUSPAGE: "post a corrected public update",
}
_REFUSED_BY = {
    Kind.EMAIL: "The mail server refused it",
    Kind.SLACK: "Slack refused it",
    Kind.WEBHOOK: "The receiver refused it",
    Kind.STATUSPAGE: "The status page refused it",
}


@dataclass(frozen=True)
class Problem:
    """Why ``delivery`` has not reached its audience, and what fixes it.

    ``replayable``: a Replay now could succeed; when False, ``action`` says what must
    change first (and Replay is refused with ``reason`` and ``action``)."""

    delivery: Delivery
    state: str  # "dead", "held" or "stuck"
    reason: str
    action: str
    replayable: bool

    @property
    def audience(self) -> str:
        return self.delivery.destination.audience.name


@dataclass(frozen=True)
class _World:
    """What the diagnosis reads besides the delivery: paused channels, open breakers."""

    now: datetime
    pauses: dict[str, ChannelPause]
    breakers: dict[str, CircuitBreaker]

    @classmethod
    def load(cls, *, now: datetime | None = None, pauses=None) -> "_World":
        """Two queries (one if ``pauses``, the ChannelPause rows, are given)."""
        now = now or timezone.now()
        pauses = ChannelPause.objects.all() if pauses is None else pauses
        return cls(
            now=now,
            pauses={pause.kind: pause for pause in pauses},
            breakers={b.key: b for b in CircuitBreaker.objects.filter(opened_until__gt=now)},
        )

    def breaker_destination_ids(self) -> list[int]:
        return [
            int(key.partition(":")[2]) for key in self.breakers if key.startswith("destination:")
        ]

    def candidates(self) -> Q:
        """Deliveries that may be a problem; the rest (sent, or young and on their way
        through a working channel) are not."""
        young = self.now - timedelta(seconds=settings.KEEL_DELIVERY_WAITING_BANNER_SECONDS)
        unfinished = Q(status__in=[Status.PENDING, Status.SENDING, Status.FAILED])
        return (
            Q(status__in=[Status.DEAD, Status.SKIPPED])
            | unfinished & Q(created_at__lte=young)
            | unfinished & Q(destination__kind__in=list(self.pauses))
            | unfinished & Q(destination_id__in=self.breaker_destination_ids())
        )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _error(delivery: Delivery) -> str:
    return (delivery.last_error or "no reason given").rstrip(".")


def _edited_since(delivery: Delivery) -> bool:
    """The destination changed after this delivery failed (e.g. its address was fixed)."""
    return delivery.destination.updated_at > delivery.updated_at


def diagnose(delivery: Delivery, world: _World) -> Problem | None:
    """The problem of one delivery (its destination and audience loaded), or None."""
    destination = delivery.destination
    kind = destination.kind
    label = destination.get_kind_display()
    incident = delivery.update.incident

    if delivery.status == Status.SENT:
        return None
    if delivery.status == Status.SKIPPED:
        if incident.private:
            return None  # the visibility rule withheld it: intended, not a failure
        if not destination.enabled:
            return Problem(
                delivery,
                "held",
                f"Not sent: {destination.name} is disabled"
                + (f" ({destination.disabled_reason})" if destination.disabled_reason else ""),
                "An admin must re-enable it in the audience's destinations, then Replay.",
                replayable=False,
            )
        return Problem(
            delivery,
            "held",
            f"Not sent: {destination.name} was disabled when the update was written; "
            "it is enabled again",
            "Replay sends it now.",
            replayable=True,
        )

    pause = world.pauses.get(kind)
    if pause is not None and delivery.status in (Status.PENDING, Status.FAILED):
        return Problem(
            delivery,
            "held",
            f"{label} is paused: {pause.reason}".rstrip("."),
            f"An admin must fix the credentials and resume the {label} "
            "(admin: Channel pauses); held deliveries then go out by themselves.",
            replayable=False,
        )

    if delivery.status == Status.DEAD:
        if not destination.enabled:
            return Problem(
                delivery,
                "dead",
                f"{destination.name} is disabled: "
                f"{destination.disabled_reason or _error(delivery)}".rstrip("."),
                f"{_sentence(_FIX_DESTINATION[kind])} and re-enable it, then Replay.",
                replayable=False,
            )
        if delivery.failure == Failure.PERMANENT and kind != Kind.STATUSPAGE:
            if _edited_since(delivery):
                return Problem(
                    delivery,
                    "dead",
                    f"{_REFUSED_BY[kind]}: {_error(delivery)}; the destination was changed since",
                    "Replay sends it to the changed destination.",
                    replayable=True,
                )
            return Problem(
                delivery,
                "dead",
                f"{_REFUSED_BY[kind]} for good: {_error(delivery)}",
                f"Sending the same message to the same place would be refused again: "
                f"{_FIX_DESTINATION[kind]}, then Replay.",
                replayable=False,
            )
        if kind == Kind.STATUSPAGE:
            return Problem(
                delivery,
                "dead",
                f"The status page refused this update: {_error(delivery)}",
                "Replay would send the same update again: post a corrected public update "
                "instead (Replay helps once what it refused is fixed, e.g. a component added).",
                replayable=True,
            )
        return Problem(
            delivery,
            "dead",
            f"Gave up after {delivery.attempts} attempts: {_error(delivery)}",
            "Replay once the destination answers again.",
            replayable=True,
        )

    breaker = world.breakers.get(f"destination:{destination.pk}")
    if breaker is not None and delivery.status in (Status.PENDING, Status.FAILED):
        at = timezone.localtime(breaker.opened_until)
        return Problem(
            delivery,
            "held",
            f"{destination.name} failed {breaker.consecutive_failures} times in a row "
            f"({breaker.last_failure or 'no reason given'}); Keel waits until "
            f"{at:%H:%M:%S %Z} before trying it again",
            "Keel retries by itself; if it keeps failing, check the destination.",
            replayable=False,
        )

    threshold = timedelta(seconds=settings.KEEL_DELIVERY_WAITING_BANNER_SECONDS)
    age = world.now - delivery.created_at
    if delivery.status == Status.FAILED and age >= threshold:
        return Problem(
            delivery,
            "stuck",
            f"Still failing after {delivery.attempts} attempt"
            f"{'s' if delivery.attempts != 1 else ''} over {format_duration(age)}: "
            f"{_error(delivery)}",
            "Keel keeps retrying with backoff; Replay tries again now.",
            replayable=True,
        )
    if delivery.status in (Status.PENDING, Status.SENDING) and age >= threshold:
        if (
            delivery.status == Status.SENDING
            and delivery.lease_until
            and (delivery.lease_until > world.now)
        ):
            return None  # a worker is on it
        return Problem(
            delivery,
            "stuck",
            f"Not sent yet after {format_duration(age)}: no worker has picked it up",
            "It goes out as soon as a worker runs; if none is running, start the workers.",
            replayable=False,
        )
    return None


def _problems(deliveries, world: _World) -> list[Problem]:
    return [p for p in (diagnose(d, world) for d in deliveries) if p is not None]


# What ``diagnose`` and the banner and markers read of a delivery and its joins.
_JUDGED_FIELDS = (
    *("status", "failure", "attempts", "last_error", "created_at", "updated_at"),
    *("lease_until", "update__incident__private"),
    *("destination__kind", "destination__name", "destination__enabled"),
    *("destination__disabled_reason", "destination__updated_at", "destination__audience__name"),
)


def _troubled(queryset, world: _World):
    return (
        queryset.filter(world.candidates())
        .select_related("destination__audience", "update__incident")
        .only(*_JUDGED_FIELDS)
        .order_by("created_at", "destination__name")
    )


def problems_for(
    *, incident, now: datetime | None = None, pauses=None, limit: int | None = None
) -> list[Problem]:
    """The incident's deliveries in trouble, oldest first (three queries; two when the
    ChannelPause rows are given as ``pauses``); of the oldest ``limit`` deliveries that
    may be in trouble when ``limit`` is given."""
    world = _World.load(now=now, pauses=pauses)
    troubled = _troubled(Delivery.objects.filter(update__incident=incident), world)
    return _problems(troubled if limit is None else troubled[:limit], world)


def problems_of_page(deliveries: list[Delivery], *, incident, pauses=None) -> list[Problem]:
    """The problems of a page of ``incident``'s deliveries as loaded (their
    destinations, audiences and updates joined), in the two queries of the world they
    are judged in (one when the ChannelPause rows are given as ``pauses``): the rows
    are not read again. Judging every row is judging the candidates: a delivery
    ``_World.candidates`` leaves out has no problem."""
    for delivery in deliveries:
        delivery.update.incident = incident
    return _problems(deliveries, _World.load(pauses=pauses))


# The incident list's and the CS desk's markers judge an incident's oldest few deliveries
# that may be in trouble: with the workers down, one incident may have thousands, each
# diagnosed in Python and named in the marker.
MARKED_PER_INCIDENT = 10


@dataclass(frozen=True)
class Marked:
    """An incident's marker: the problems among its oldest ``MARKED_PER_INCIDENT``
    deliveries that may be in trouble; ``unjudged`` more may be (not read)."""

    problems: list[Problem]
    unjudged: int = 0

    def __iter__(self):
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)


def problems_by_incident(
    *, incident_ids: Iterable[int], now=None, per_incident: int = MARKED_PER_INCIDENT
) -> dict[int, Marked]:
    """``{incident id: Marked}`` for a page of incidents; incidents without a problem
    are left out. One query while none of their deliveries is unsent (the usual page:
    compiling the diagnosis' joins, ~100 columns, cost more than running it); four when
    some are (those deliveries, the pauses and breakers). Each incident's oldest
    ``per_incident`` candidates are judged, however many it has."""
    unsent = Delivery.objects.filter(update__incident_id__in=list(incident_ids)).exclude(
        status=Status.SENT
    )
    if not unsent.exists():
        return {}
    # ``diagnose`` tells each unsent delivery's problem, or that it is on its way:
    # what ``_World.candidates`` filters out in the query. The unsent deliveries are
    # read once, by that query (an incident may have thousands: never as a list of ids).
    world = _World.load(now=now)
    by_incident = [F("update__incident_id")]
    oldest = _troubled(unsent, world).annotate(
        place=Window(
            RowNumber(),
            partition_by=by_incident,
            order_by=[F("created_at").asc(), F("destination__name").asc(), F("pk").asc()],
        ),
        candidates=Window(Count("pk"), partition_by=by_incident),
    )
    grouped: dict[int, list[Problem]] = {}
    unjudged: dict[int, int] = {}
    judged = list(oldest.filter(place__lte=per_incident))
    for delivery in judged:
        unjudged[delivery.update.incident_id] = delivery.candidates - per_incident
    for problem in _problems(judged, world):
        grouped.setdefault(problem.delivery.update.incident_id, []).append(problem)
    return {
        incident_id: Marked(found, unjudged=max(unjudged[incident_id], 0))
        for incident_id, found in grouped.items()
    }


def problem_of(delivery: Delivery) -> Problem | None:
    """The diagnosis of one delivery now (its destination, audience, update loaded)."""
    return diagnose(delivery, _World.load())


def held_for(update) -> list[Problem]:
    """The deliveries of a just-written update that will not simply go out: a paused
    channel, an open breaker, a disabled destination. The others were accepted.

    ``update_post`` leaves its deliveries in the update's prefetch cache, their
    destinations marked ``channel_paused`` and ``breaker_open``: when none is, the
    pauses and breakers are not read (no query at all)."""
    if "deliveries" not in getattr(update, "_prefetched_objects_cache", {}):
        deliveries = update.deliveries.select_related("destination__audience", "update__incident")
        return _problems(deliveries, _World.load())
    deliveries = list(update.deliveries.all())
    marked = [
        getattr(d.destination, "channel_paused", True)
        or getattr(d.destination, "breaker_open", True)
        for d in deliveries
    ]
    world = _World.load() if any(marked) else _World(now=timezone.now(), pauses={}, breakers={})
    return _problems(deliveries, world)


def posted_notice(update) -> str:
    """Say who was handed the update, and only them: "posted" is said of an audience
    with a destination that will take it; what is held says why and what fixes it."""
    held = held_for(update)
    held_ids = {problem.delivery.pk for problem in held}
    accepted: set[int] = set()
    addressed: set[int] = set()
    for delivery in update.deliveries.all():
        addressed.add(delivery.destination.audience_id)
        if delivery.pk not in held_ids:
            accepted.add(delivery.destination.audience_id)
    audiences = list(update.audiences.all())
    posted = [a.name for a in audiences if a.pk in accepted]
    unreachable = [a.name for a in audiences if a.pk not in addressed]
    if not audiences:
        return "Update saved; it was sent to nobody (no route matched)."
    text = f"Update posted to {', '.join(posted)}." if posted else "Update saved."
    for problem in held:
        destination = problem.delivery.destination
        text += (
            f" Held for {problem.audience} ({destination.name}): {problem.reason}. {problem.action}"
        )
    if unreachable:
        text += f" {', '.join(unreachable)}: no destination set up, nobody there was told."
    return text
