"""People and their roles: the writes (role, deactivate, reactivate) with their audit
rows, and the reads the people page needs.

A role is a Django group of ``common.roles`` (as for every permission check); admins
are staff too, for the back office.
Every write records an ``AccountEvent`` in the same transaction.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from common import roles
from common.exceptions import Conflict, InvalidInput
from common.people_models import AccountEvent, Role

User = get_user_model()
Source = AccountEvent.Source
RANK = {Role.VIEWER: 1, Role.RESPONDER: 2, Role.ADMIN: 3}


def role_groups() -> dict[str, str]:
    """Role → group name (``common.roles``)."""
    return {
        Role.ADMIN: roles.ADMINS,
        Role.RESPONDER: roles.RESPONDERS,
        Role.VIEWER: roles.VIEWERS,
    }


def role_of(user) -> str:
    """The highest role ``user``'s groups give; superusers are admins; no group is a
    viewer (as ``common.roles`` reads it)."""
    if user.is_superuser:
        return Role.ADMIN
    names = {group.name for group in user.groups.all()}
    for role in (Role.ADMIN, Role.RESPONDER):
        if role_groups()[role] in names:
            return role
    return Role.VIEWER


def people_list() -> QuerySet:
    """Every account with its groups, for the people page (two queries)."""
    return User.objects.order_by("-is_active", "username").prefetch_related(
        Prefetch("groups", queryset=Group.objects.only("name"))
    )


def account_events(*, limit: int = 50) -> QuerySet:
    return AccountEvent.objects.select_related("user", "actor")[:limit]


def record(*, kind: str, source: str, actor, user=None, email: str = "", detail: str = ""):
    return AccountEvent.objects.create(
        kind=kind,
        source=source,
        actor=actor,
        user=user,
        email=email or (user.email if user is not None else ""),
        detail=detail[:300],
    )


def _admins_left(excluding) -> bool:
    admins = User.objects.filter(is_active=True).exclude(pk=excluding.pk)
    return (
        admins.filter(is_superuser=True).exists()
        or admins.filter(groups__name=role_groups()[Role.ADMIN]).exists()
    )


def _apply_role(user, role: str) -> None:
    groups = role_groups()
    wanted = Group.objects.get_or_create(name=groups[role])[0]
    others = Group.objects.filter(name__in=[name for r, name in groups.items() if r != role])
    user.groups.remove(*others)
    user.groups.add(wanted)
    if user.is_staff != (role == Role.ADMIN) and not user.is_superuser:
        user.is_staff = role == Role.ADMIN
        user.save(update_fields=["is_staff"])
    user._keel_groups = None  # the permissions' per-request cache of the groups


@transaction.atomic
def user_role_set(*, user, role: str, actor, source: str = Source.WEB):
    """Give ``user`` exactly ``role`` (its group, none of the other role groups) and
    record the change; nothing is written when the role is already theirs. The last
    active admin cannot lose the role."""
    if role not in RANK:
        raise InvalidInput("Role: choose admin, responder or viewer.", field="role")
    user = User.objects.select_for_update().get(pk=user.pk)
    old = role_of(user)
    has_group = user.groups.filter(name=role_groups()[role]).exists()
    if old == role and has_group:
        return user
    if old == Role.ADMIN and role != Role.ADMIN and not _admins_left(user):
        raise Conflict(f"{user.username} is the last admin: make someone else admin first.")
    _apply_role(user, role)
    record(
        kind=AccountEvent.Kind.ROLE_CHANGED,
        source=source,
        actor=actor,
        user=user,
        detail=f"{Role(old).label} → {Role(role).label}",
    )
    return user


@transaction.atomic
def user_deactivate(*, user, actor):
    """Turn the account off: no sign-in (password or SSO), its sessions and API tokens
    stop working at their next request. Everything it did stays, with its name."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == actor.pk:
        raise Conflict("You cannot deactivate your own account.")
    if not user.is_active:
        return user
    if role_of(user) == Role.ADMIN and not _admins_left(user):
        raise Conflict(f"{user.username} is the last admin: make someone else admin first.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record(kind=AccountEvent.Kind.DEACTIVATED, source=Source.WEB, actor=actor, user=user)
    return user


@transaction.atomic
def user_reactivate(*, user, actor):
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    record(kind=AccountEvent.Kind.REACTIVATED, source=Source.WEB, actor=actor, user=user)
    return user
