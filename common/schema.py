"""The OpenAPI document's shared parts: the one error body and the error responses.

Every error Keel's API answers has the shape ``common.api.exception_handler`` (and
the middleware's refusals) write: ``{"detail", "code", "errors"}``, plus, for some
refusals, named extras (``blockers`` of a refused close, ``retry_after`` of a 429,
``current_version`` of a postmortem edit conflict, ...). ``ErrorOutput`` is that
shape, one component (``Error``) that every error response refers to.

``KeelAutoSchema`` adds to each operation the error responses that the machinery
shared by every view can answer (authentication, the body and query guards, the
Idempotency-Key, pagination, a database outage); the domain refusals a view's
services raise (409, and the rare 422) are declared on the view with ``refusal``.
The response-conformance test (tests/api_conformance/) fails on any status the
suite receives that is not documented here.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from common.idempotency import HEADER as IDEMPOTENCY_HEADER_NAME

_FIELD_ERRORS = {
    "type": "object",
    "description": "The fields at fault, each with its messages (`{}` when no field is at "
    "fault). A nested input names its inner fields or list positions: "
    '`{"subscriber": {"email": ["Enter a valid email address."]}}`, '
    '`{"options": {"0": ["This field may not be blank."]}}`.',
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {}}, {"type": "object", "additionalProperties": {}}]
    },
}


@extend_schema_field(_FIELD_ERRORS)
class FieldErrorsField(serializers.DictField):
    pass


class ValidComponentOutput(serializers.Serializer):
    slug = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()


def _strings(help_text: str) -> serializers.ListField:
    """An optional list of strings among the error's named extras."""
    return serializers.ListField(child=serializers.CharField(), required=False, help_text=help_text)


@extend_schema_serializer(component_name="Error")
class ErrorOutput(serializers.Serializer):
    """The one error body. ``detail`` says what went wrong in words, ``code`` is
    stable for programs, ``errors`` names the fields; the extras appear only on
    the refusals named in their descriptions."""

    detail = serializers.CharField()
    code = serializers.CharField(
        help_text="Stable, for programs. 400: invalid, parse_error, invalid_characters, "
        "illegal_correction, unknown_components, never_deliverable, statuspage_missing; 401: "
        "not_authenticated, authentication_failed; 403: permission_denied, insufficient_scope; "
        "404: not_found; "
        "409: conflict, illegal_stage_move, cannot_close, version_conflict, wrong_status, "
        "public_incident_resolved, already_subscribed; 411: length_required; 413: "
        "request_too_large; 415: unsupported_media_type; 422: unprocessable; 429: "
        "throttled, rate_limited; 503: unavailable. New codes may be added."
    )
    errors = FieldErrorsField()
    retry_after = serializers.IntegerField(
        required=False, help_text="429 of a rate limit: seconds until it resets."
    )
    blockers = _strings("409 of a refused close: what must happen first.")
    problems = _strings("400 of a refused postmortem submission: what is missing.")
    pending = _strings("409 of a refused publish: the reviewers whose approval is awaited.")
    postmortem = serializers.IntegerField(
        required=False, help_text="409 of a second postmortem for an incident: the existing one."
    )
    current_version = serializers.IntegerField(
        required=False, help_text="409 of a postmortem edit conflict: the version saved now."
    )
    last_saved_by = serializers.CharField(
        required=False, allow_null=True, help_text="409 of a postmortem edit conflict."
    )
    last_saved_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="409 of a postmortem edit conflict."
    )
    sections = _strings(
        "409 of a postmortem edit conflict: the section keys saved by someone else."
    )
    valid_components = ValidComponentOutput(
        many=True,
        required=False,
        help_text="400 of an update naming unknown status page components: the valid ones.",
    )
    choices = _strings("400 of an update needing a public_resolved_action: the choices.")
    required_scopes = _strings(
        "403 insufficient_scope: the scopes this operation needs (one of them)."
    )
    token_scopes = _strings("403 insufficient_scope: the scopes the token carries.")


def bare_page_parameters(noun: str, size: int) -> list[OpenApiParameter]:
    """``?cursor=`` and the ``Link`` response header of a list that stays a bare array
    (the contract) but answers ``size`` items at a time."""
    return [
        OpenApiParameter(
            "cursor",
            str,
            OpenApiParameter.QUERY,
            required=False,
            description=f'The opaque cursor of the `Link: <...>; rel="next"` header: the '
            f"{noun} after the previous page's last, stable while more are added. Without "
            f"it, the first {size}. An invalid cursor is 400 naming `cursor`.",
        ),
        OpenApiParameter(
            "Link",
            str,
            OpenApiParameter.HEADER,
            response=[200],
            description=f'RFC 8288: `<url>; rel="next"` when there are more {noun} than '
            f"this page's {size} (absent on the last page).",
        ),
    ]


def refusal(description: str) -> OpenApiResponse:
    """An error response of one view (a 409 of its service, say), as ``Error``."""
    return OpenApiResponse(ErrorOutput, description=description)


_BODY_METHODS = {"POST", "PUT", "PATCH"}


class KeelAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the error responses every view shares."""

    def _error_responses(self) -> dict[str, str]:
        method = self.method.upper()
        parameters = self._get_parameters()
        names = {parameter["name"] for parameter in parameters}
        # A body is read when the view validates one, or to fingerprint it for the key.
        takes_body = method in _BODY_METHODS and (
            self.get_request_serializer() is not None or IDEMPOTENCY_HEADER_NAME in names
        )
        authenticated = not any(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )
        paginated = getattr(self.view, "pagination_class", None) is not None and method == "GET"
        found: dict[str, str] = {
            "400": "Invalid input: the fields at fault are named in `errors` (also a NUL in "
            "the address or a query parameter, or an invalid Idempotency-Key).",
        }
        if authenticated:
            found["401"] = "No credentials, or an invalid, expired or revoked token."
            found["403"] = "The user's role (or the token's scope) does not allow this."
        if "{" in self.path or paginated:
            found["404"] = (
                "Not found, or not visible to this user (private incidents)."
                if "{" in self.path
                else "The page does not exist (`page` past the last one)."
            )
        if takes_body:
            found["411"] = "A chunked body the server cannot bound: send Content-Length."
            found["413"] = "The request body is over the size limit."
            found["415"] = "The body is not JSON (`Content-Type: application/json`)."
        if IDEMPOTENCY_HEADER_NAME in names:
            found["422"] = "This Idempotency-Key was already used with a different body."
        if authenticated:
            found["429"] = "Too many failed token attempts from this address; see `Retry-After`."
        found["503"] = "The database is unavailable right now; retry after `Retry-After`."
        return found

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(refusal(description), code)
        return dict(sorted(responses.items()))
