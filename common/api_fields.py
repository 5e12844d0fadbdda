"""Serializer fields every app's API shares."""

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
