"""Serializer fields every app's API shares, and what they write for the lists that
build their rows as plain dicts (``api_time``)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.STR)
class UsernameField(serializers.Field):
    """A person as the API names them: their username, or ``null`` for nobody."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, user) -> str:
        return user.get_username()


def api_time(value, zone) -> str | None:
    """What DRF's ``DateTimeField`` writes for a time read from the database (aware):
    ISO 8601 in the reader's zone (``timezone.get_current_timezone()``), "Z" for UTC.
    Its own ``to_representation`` looks the zone up again for each of a page's times."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else text
