"""``Idempotency-Key`` for creating POSTs.

Same key + same body: the first response is replayed and nothing is written
again. Same key + a different body: 422. Keys are scoped per user and per
endpoint. Under two concurrent requests the second blocks on the unique index
until the first commits, then replays its response.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from common.exceptions import InvalidInput, Unprocessable
from common.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# For the OpenAPI schema of every view that runs through ``idempotent``.
IDEMPOTENCY_HEADER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Replays the first response for the same key and body; 422 for another body.",
)


def _fingerprint(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request body.",
            field=HEADER,
        )
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per (user, endpoint, key); replay its response after."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    key = key.strip()
    # Control characters (a NUL above all: PostgreSQL refuses it in text) are no key.
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.", field=HEADER
        )

    scope = f"{request.method} {request.path}"
    fingerprint = _fingerprint(request.data)
    existing = IdempotencyKey.objects.filter(user=request.user, scope=scope, key=key).first()
    if existing is not None and existing.response_status is not None:
        return _replay(existing, fingerprint)

    with transaction.atomic():
        try:
            with transaction.atomic():
                # Blocks here while a concurrent request with the same key is in flight,
                # then fails on the unique index once that request has committed.
                record = IdempotencyKey.objects.create(
                    user=request.user, scope=scope, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.get(user=request.user, scope=scope, key=key)
            return _replay(existing, fingerprint)
        response = handler()
        if response.status_code >= 500:
            transaction.set_rollback(True)
            return response
        record.response_status = response.status_code
        record.response_body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
        record.save(update_fields=["response_status", "response_body"])
        return response


# Web forms ---------------------------------------------------------------------

FORM_FIELD = "submission_key"


def form_once(*, request, perform: Callable[[], str]) -> tuple[str, bool]:
    """Run a web form's write once per ``submission_key`` (a hidden field minted when
    the form was rendered): a double click or a re-sent POST gets the first result
    (``perform`` returns where to go next) instead of a second write. Returns
    (location, replayed). A key sent again with other values is refused (422); a
    form without a key just runs. A refused ``perform`` (an ApplicationError)
    rolls the key back with everything else: the corrected form can be sent."""
    key = (request.POST.get(FORM_FIELD) or "").strip()
    if not key:
        return perform(), False
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput("This form's submission key is not valid: reload it.", field=None)
    scope = f"web {request.path}"[:255]
    fingerprint = _fingerprint(
        {
            name: values
            for name, values in request.POST.lists()
            if name not in (FORM_FIELD, "csrfmiddlewaretoken")
        }
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=request.user, scope=scope, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.get(user=request.user, scope=scope, key=key)
            if existing.request_fingerprint != fingerprint:
                raise Unprocessable(
                    "This form was already sent with other values: reload it to send again.",
                    field=None,
                ) from None
            return existing.response_body["location"], True
        location = perform()
        record.response_status = 303
        record.response_body = {"location": location}
        record.save(update_fields=["response_status", "response_body"])
        return location, False
