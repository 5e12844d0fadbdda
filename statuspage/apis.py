"""``POST /api/v2/subscribers.json``: Statuspage's public subscribe call, through the
same service, limits and confirmation as the page's form.

Statuspage's shape as far as Keel has it: a ``subscriber`` object with ``email``
(an email subscriber), or ``endpoint`` (a webhook subscriber; Statuspage also
wants an ``email`` beside it, for failure notices Keel does not send, so it is
accepted and not used), and ``component_ids`` (none: every component). JSON, or
Statuspage's form encoding (``subscriber[email]=…&subscriber[component_ids][]=…``).

Public and anonymous, like the form: no session, no CSRF, no token. What keeps it
from being turned against anyone is ``statuspage.subscriptions.subscriber_subscribe``:
double opt-in by email, an echoed challenge for webhooks, and the per-address,
per-client and global budgets (failing closed). ``Idempotency-Key`` is not honoured
here: a replay would hand a webhook's signing secret to whoever repeats the key;
a repeated email request sends nothing more within ten minutes anyway.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import ratelimit
from common.exceptions import ApplicationError
from common.parsers import JSONParser
from common.schema import refusal
from statuspage import documents, subscriptions
from statuspage.subscriber_models import Subscriber

MAX_COMPONENTS = 200
# The service names its inputs as the form does; the API's own name for one of them.
API_FIELD = {"components": "component_ids"}
CHECK_INBOX = (
    "We sent a message to that address (a confirmation link, or a link to manage an "
    "existing subscription). Nothing else is sent until it is used."
)


class SubscriberFields(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    endpoint = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", trim_whitespace=True
    )
    component_ids = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        max_length=MAX_COMPONENTS,
        help_text="Public component ids (as in components.json); none: every component.",
    )


class SubscribeInput(serializers.Serializer):
    subscriber = SubscriberFields()


class SubscriberOutput(serializers.Serializer):
    id = serializers.CharField(required=False, help_text="Webhook subscribers only.")
    mode = serializers.ChoiceField(choices=Subscriber.Kind.choices)
    email = serializers.CharField(required=False)
    endpoint = serializers.CharField(required=False)
    component_ids = serializers.ListField(child=serializers.CharField())
    created_at = serializers.CharField(required=False)
    confirmed_at = serializers.CharField(required=False, allow_null=True)
    secret = serializers.CharField(
        required=False, help_text="The webhook signing secret: shown once, here."
    )


class SubscribeOutput(serializers.Serializer):
    subscriber = SubscriberOutput()
    detail = serializers.CharField()


def _statuspage_form(data) -> dict:
    """``subscriber[email]=…&subscriber[component_ids][]=…`` as the JSON shape."""
    return {
        "subscriber": {
            "email": data.get("subscriber[email]", ""),
            "endpoint": data.get("subscriber[endpoint]", ""),
            "component_ids": data.getlist("subscriber[component_ids][]")
            or data.getlist("subscriber[component_ids]"),
        }
    }


class SubscribersApi(APIView):
    authentication_classes: list = []  # anonymous by design: no session, so no CSRF
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, parsers.FormParser]

    @extend_schema(
        request=SubscribeInput,
        responses={
            201: SubscribeOutput,
            202: SubscribeOutput,
            409: refusal("The endpoint is subscribed already (code `already_subscribed`)."),
            429: refusal("Over a per-address, per-client or global limit; see `Retry-After`."),
        },
        summary="Subscribe by email or webhook (Statuspage's public subscribe call)",
        description="Email: 202, and a confirmation link is mailed (or, for an address "
        "already subscribed, a link to manage it; the answer is the same either way). "
        "Webhook: 201 with the signing secret, shown once; a signed endpoint.verification "
        "event is POSTed and nothing else is sent until the endpoint echoes its challenge. "
        "An endpoint already subscribed: 409. Over a limit: 429 with Retry-After.",
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if hasattr(data, "getlist") and "subscriber" not in data:
            data = _statuspage_form(data)
        serializer = SubscribeInput(data=data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data["subscriber"]
        kind = Subscriber.Kind.WEBHOOK if fields["endpoint"] else Subscriber.Kind.EMAIL
        try:
            outcome = subscriptions.subscriber_subscribe(
                kind=kind,
                email=fields["email"] if kind == Subscriber.Kind.EMAIL else "",
                endpoint=fields["endpoint"],
                component_ids=fields["component_ids"],
                client=ratelimit.client_address(request),
            )
        except ApplicationError as exc:  # the refusal as the form words it, fields renamed
            exc.field = self._field(exc.field)
            raise
        subscriber = outcome.subscriber
        if kind == Subscriber.Kind.EMAIL:
            # The same answer whatever happened: it must not tell a stranger whether an
            # address is already subscribed.
            body = {
                "subscriber": {
                    "mode": kind,
                    "email": fields["email"].strip().lower(),
                    "component_ids": fields["component_ids"],
                },
                "detail": CHECK_INBOX,
            }
            return Response(body, status=status.HTTP_202_ACCEPTED)
        if outcome.sent != "challenge":
            return Response(
                {
                    "detail": f"{subscriber.endpoint} already receives our updates; nothing "
                    "was changed. To change it, use the meta.manage link of any payload.",
                    "code": "already_subscribed",
                    "errors": {"endpoint": ["This endpoint is already subscribed."]},
                },
                status=status.HTTP_409_CONFLICT,
            )
        body = {
            "subscriber": {
                "id": subscriber.public_id,
                "mode": kind,
                "endpoint": subscriber.endpoint,
                "component_ids": sorted(subscriber.components.values_list("public_id", flat=True)),
                "created_at": documents.iso(subscriber.created_at),
                "confirmed_at": None,
                "secret": outcome.secret,
            },
            "detail": "We will POST a signed endpoint.verification event to the endpoint. "
            'Answer it with a 2xx whose body is its challenge (or {"challenge": "<challenge>"}); '
            "nothing else is sent until then. Verify every payload's webhook-signature header "
            "with this secret.",
        }
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"  # the secret
        return response

    @staticmethod
    def _field(name: str | None) -> str | None:
        if name is None:
            return None
        return f"subscriber.{API_FIELD.get(name, name)}"
