"""The API's JSON parser (the default for every DRF view).

Its own module: ``rest_framework.views`` reads ``DEFAULT_PARSER_CLASSES`` when it
is imported, so the parser cannot live beside the exception handler in
``common.api`` (which imports the views) without a circular import.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DRFJSONParser

from common.jsonguard import JSONInputError, parse_json


class JSONParser(DRFJSONParser):
    """``common.jsonguard.parse_json``: size and depth checked before parsing; NUL and
    lone surrogates refused with a 400 naming the top-level field they are in."""

    clean = False

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.KEEL_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestDataTooBig("Request body is too large.")
        try:
            return parse_json(raw, clean=self.clean)
        except JSONInputError as exc:
            if exc.field:
                raise exceptions.ValidationError({exc.field: [exc.message]}) from exc
            raise exceptions.ParseError(exc.message, code=exc.code) from exc


class CleaningJSONParser(JSONParser):
    """For machine senders that cannot fix their payload (Alertmanager): NUL dropped
    and lone surrogates replaced, instead of refusing the whole notification."""

    clean = True
