"""Who may do what. Roles are Django groups: Responders, Viewers, Admins.

* admin (superuser or the Admins group): everything, every private incident;
* responder: declares and drives incidents;
* viewer (CS): reads; every signed-in user without a role is a viewer too.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL

from common.exceptions import NotAllowed

RESPONDERS = "Responders"
VIEWERS = "Viewers"
ADMINS = "Admins"
ROLE_GROUPS = (RESPONDERS, VIEWERS, ADMINS)


_ROLE_BITS = "keel_role_groups"


def role_groups_read_with(user_id_sql: str) -> dict[str, RawSQL]:
    """An annotation reading, with a row that holds a user (``user_id_sql``: its
    column, e.g. ``"incidents_alertsource"."user_id"``), which role groups that user
    is in (one bit per group of ``ROLE_GROUPS``); ``role_groups_known`` then leaves
    them where the checks below look, which then ask the database nothing. One
    subquery written out: the ORM's, or one per group, cost more Python to build
    than the query they save."""
    quote = connection.ops.quote_name
    links = get_user_model().groups.through._meta
    groups = Group._meta
    bits = " ".join(f"WHEN %s THEN {1 << number}" for number in range(len(ROLE_GROUPS)))
    sql = (
        f"SELECT COALESCE(SUM(CASE g.{quote(groups.get_field('name').column)} {bits} "
        f"ELSE 0 END), 0) FROM {quote(links.db_table)} ug "
        f"INNER JOIN {quote(groups.db_table)} g "
        f"ON g.{quote(groups.pk.column)} = ug.{quote(links.get_field('group').column)} "
        f"WHERE ug.{quote(links.get_field('user').column)} = {user_id_sql}"
    )
    return {_ROLE_BITS: RawSQL(sql, list(ROLE_GROUPS), output_field=IntegerField())}


def role_groups_known(user, row) -> None:
    """Remember on ``user`` the role groups ``row`` read with ``role_groups_read_with``
    (the checks here ask only about role groups)."""
    bits = int(getattr(row, _ROLE_BITS) or 0)
    user._keel_groups = {name for number, name in enumerate(ROLE_GROUPS) if bits & (1 << number)}


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
