"""The three things an incident tells the outside world, and who delivers them.

``incidents`` imports no other app: its services call these functions, and the
notifications app connects its implementations at start-up (``NotificationsConfig.ready``)
— the routed fan-out, the personal notice of a role hand-off and the public resolve.
A port nobody connected raises: an announcement must never vanish silently.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Announcer:
    # (incident, kind, message, actor, source, previous_severity) → outbox rows for the
    # routed audiences, written in the caller's transaction.
    fan_out: Callable[..., None]
    # (incident, role, user, actor) → a personal notice for ``user``.
    role_assigned: Callable[..., None]
    # (incident, outcome, message, actor, source) → the public incident resolved.
    public_resolve: Callable[..., None]


_connected: Announcer | None = None


def connect(announcer: Announcer) -> None:
    global _connected
    _connected = announcer


def announcer() -> Announcer:
    if _connected is None:
        raise ImproperlyConfigured(
            "No announcer is connected: the notifications app connects one at start-up."
        )
    return _connected
