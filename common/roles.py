"""Who may do what. Roles are Django groups: Responders, Viewers, Admins.

* admin (superuser or the Admins group): everything, every private incident;
* responder: declares and drives incidents;
* viewer (CS): reads; every signed-in user without a role is a viewer too.
"""

from common.exceptions import NotAllowed

RESPONDERS = "Responders"
VIEWERS = "Viewers"
ADMINS = "Admins"
ROLE_GROUPS = (RESPONDERS, VIEWERS, ADMINS)


def _groups(user) -> set[str]:
    cached = getattr(user, "_keel_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._keel_groups = cached
    return cached


def is_admin(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or ADMINS in _groups(user)))


def can_drive_incidents(user) -> bool:
    return bool(user.is_authenticated and (is_admin(user) or RESPONDERS in _groups(user)))


def require_admin(actor, *, to: str) -> None:
    """Refuse anyone but an admin, saying what only admins can do: ``to`` completes
    "Only admins can …"."""
    if not is_admin(actor):
        raise NotAllowed(f"Only admins can {to}.")


def require_responder(actor, *, to: str) -> None:
    """Refuse viewers (and anyone without a role), saying what it takes: ``to``
    completes "Only responders and admins can …"."""
    if not can_drive_incidents(actor):
        raise NotAllowed(f"Only responders and admins can {to}.")
