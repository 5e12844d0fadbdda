"""Who may do what. Roles are Django groups: Responders, Viewers, Admins.

* admin (superuser or the Admins group): everything, every private incident;
* responder: declares and drives incidents;
* viewer (CS): reads; every signed-in user without a role is a viewer too.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from common.exceptions import NotAllowed

RESPONDERS = "Responders"
VIEWERS = "Viewers"
ADMINS = "Admins"
ROLE_GROUPS = (RESPONDERS, VIEWERS, ADMINS)


def role_groups_read_with(user_id_sql: str) -> dict[str, RawSQL]:
    """Annotations reading, with a row that holds a user (``user_id_sql``: its column,
    e.g. ``"incidents_alertsource"."user_id"``), which role groups that user is in;
    ``role_groups_known`` then leaves them where the checks below look, which then
    ask the database nothing. Each is an ``EXISTS`` written out: the ORM's would cost
    more to build than the query it saves."""
    quote = connection.ops.quote_name
    links = get_user_model().groups.through._meta
    groups = Group._meta
    sql = (
        f"EXISTS (SELECT 1 FROM {quote(links.db_table)} ug "
        f"INNER JOIN {quote(groups.db_table)} g "
        f"ON g.{quote(groups.pk.column)} = ug.{quote(links.get_field('group').column)} "
        f"WHERE ug.{quote(links.get_field('user').column)} = {user_id_sql} AND g.name = %s)"
    )
    return {
        f"keel_role_{number}": RawSQL(sql, [name], output_field=BooleanField())
        for number, name in enumerate(ROLE_GROUPS)
    }


def role_groups_known(user, row) -> None:
    """Remember on ``user`` the role groups ``row`` read with ``role_groups_read_with``
    (the checks here ask only about role groups)."""
    user._keel_groups = {
        name for number, name in enumerate(ROLE_GROUPS) if getattr(row, f"keel_role_{number}")
    }


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
