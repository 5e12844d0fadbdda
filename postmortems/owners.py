"""Who an action item's owner is, from what a person types: a username or a full name."""

from django.contrib.auth import get_user_model
from django.db.models import Value
from django.db.models.functions import Concat, Lower

from common.exceptions import InvalidInput

MAX_CANDIDATES_LISTED = 5


def _describe(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


def owner_find(typed: str | None, *, where: str, field: str):
    """The active user whose username is ``typed`` (case-insensitively), else whose
    full name is; None for nothing typed. A name that matches several people, or
    nobody, is ``InvalidInput`` at ``field`` saying so (``where`` is the label the
    user sees, e.g. "Action items, row 2, Owner")."""
    typed = " ".join((typed or "").split())
    if not typed:
        return None
    users = get_user_model().objects.filter(is_active=True)
    by_username = users.filter(username__iexact=typed).first()
    if by_username is not None:
        return by_username
    matches = list(
        users.annotate(full_name=Lower(Concat("first_name", Value(" "), "last_name")))
        .filter(full_name=typed.lower())
        .order_by("username")[: MAX_CANDIDATES_LISTED + 1]
    )
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InvalidInput(
            f"{where}: nobody active is called '{typed}'; type a username or a full name.",
            field=field,
        )
    listed = ", ".join(_describe(user) for user in matches[:MAX_CANDIDATES_LISTED])
    more = " and others" if len(matches) > MAX_CANDIDATES_LISTED else ""
    raise InvalidInput(
        f"{where}: '{typed}' could be {listed}{more}; type the username.", field=field
    )
