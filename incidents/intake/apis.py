"""``POST /api/v1/integrations/{alertmanager,grafana,webhook}/``: thin views over
``body`` → ``normalize`` → ``receive``, each notification logged on its source.

Credentials, in the order tried: a source key (``keelsrc_…``) as ``Authorization:
Bearer`` or ``Token``, or as ``?token=`` in the URL for senders that cannot set a
header; else a Keel API token with the ``intake`` (or ``write``) scope, which
posts to the kind's default source and acts as the token's user.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import ratelimit
from common.api import validated
from common.auth import FAILURE_SCOPE, SCHEMES, KeelTokenAuthentication, TokenThrottled, _limits
from common.exceptions import ApplicationError, NotAllowed
from common.jsonguard import JSONInputError
from common.parsers import CleaningJSONParser
from common.roles import can_drive_incidents
from incidents import api_examples
from incidents import metrics as incident_metrics
from incidents.intake import body as intake_body
from incidents.intake import normalize, receive, sources
from incidents.intake.models import AlertSource
from incidents.intake.serializers import (
    AlertmanagerInput,
    AlertmanagerOutput,
    GenericAlertInput,
    GrafanaInput,
)

URL_KEY_PARAMETER = "token"


class SourceKeyAuthentication(authentication.BaseAuthentication):
    """A source key in ``Authorization`` (Bearer or Token) or ``?token=``; other
    credentials are left to the next authenticator. Failures count against the
    address like any bad token (``common.auth``)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        key = ""
        if len(header) == 2 and header[0].lower().decode("latin-1") in SCHEMES:
            key = header[1].decode("latin-1")
        elif not header:
            key = request.query_params.get(URL_KEY_PARAMETER, "")
        if not key.startswith(sources.KEY_PREFIX):
            return None
        address = ratelimit.client_address(request)
        limit, window = _limits()
        if not ratelimit.peek(FAILURE_SCOPE, address, limit=limit, window=window).allowed:
            raise TokenThrottled()
        source = sources.source_for_key(key)
        if source is None or source.user is None or not source.user.is_active:
            ratelimit.hit(FAILURE_SCOPE, address, limit=limit, window=window)
            raise exceptions.AuthenticationFailed("Invalid or rotated alert source key.")
        return source.user, source

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "incidents.intake.apis.SourceKeyAuthentication"
    name = "sourceKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "query",
            "name": URL_KEY_PARAMETER,
            "description": "An alert source's key (`keelsrc_…`, from /settings/alert-sources/) "
            "as `?token=`; the same key is accepted as `Authorization: Bearer` or `Token`.",
        }


class _IntakeApi(APIView):
    kind: str = ""
    authentication_classes = [SourceKeyAuthentication, KeelTokenAuthentication]
    # The body is read here, bounded (``intake.body``), never through ``request.data``;
    # the parser only tells the schema that the body is JSON.
    parser_classes = [CleaningJSONParser]

    def _source_and_actor(self, request: Request) -> tuple[AlertSource, object]:
        if isinstance(request.auth, AlertSource):
            if request.auth.kind != self.kind:
                raise NotAllowed(
                    f"This key belongs to a {request.auth.get_kind_display()} source; "
                    f"post it to /api/v1/integrations/{request.auth.kind}/."
                )
            return request.auth, request.user
        if not can_drive_incidents(request.user):
            raise NotAllowed("The token's user must be a responder to open incidents.")
        return sources.default_source(self.kind), request.user

    def _normalize(self, payload: dict, dropped_by_cap: int) -> normalize.Notification:
        return normalize.alertmanager(payload, dropped_by_cap=dropped_by_cap)

    def post(self, request: Request) -> Response:
        source, actor = self._source_and_actor(request)
        raw = intake_body.read(request._request)
        try:
            parsed = intake_body.parse(raw)
            notification = self._normalize(parsed.payload, parsed.dropped_by_cap)
        except (JSONInputError, ApplicationError, exceptions.ValidationError) as exc:
            message = getattr(exc, "message", None) or str(getattr(exc, "detail", exc))
            sources.payload_logged(
                source=source,
                status_code=400,
                outcome="refused",
                raw=raw.head,
                body_bytes=raw.total_bytes,
                detail=message,
            )
            if not isinstance(exc, JSONInputError):
                raise
            raise exceptions.ParseError(message, code=exc.code) from exc
        results = receive.notification_apply(source=source, notification=notification, actor=actor)
        action = receive.summary_action(results)
        ignored = sum(result.ignored for result in results)
        sources.payload_logged(
            source=source,
            status_code=200,
            outcome=action,
            raw=raw.head,
            body_bytes=raw.total_bytes,
            incident_ids=[result.incident for result in results],
            received=notification.received,
            dropped=notification.dropped,
            malformed=notification.malformed,
            ignored=ignored,
            detail="; ".join(dict.fromkeys(notification.problems))[:2_000],
        )
        incident = next((result.incident for result in results if result.incident), None)
        return Response(
            {
                "action": action,
                "incident": incident,
                "source": source.label,
                "groups": [
                    {"key": r.key[:1_000], "action": r.action, "incident": r.incident}
                    for r in results
                ],
                "alerts": {
                    "received": notification.received,
                    "dropped": notification.dropped,
                    "malformed": notification.malformed,
                    "ignored": ignored,
                },
            }
        )

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer counts, refusals included (raised before ``post`` runs, too):
        # a sender drops what Keel refuses, so refusals must be seen (an alert rule).
        incident_metrics.alert_notification_counted(
            integration=self.kind, outcome=incident_metrics.alert_outcome(response)
        )
        return super().finalize_response(request, response, *args, **kwargs)


_KEY_IN_URL = OpenApiParameter(
    URL_KEY_PARAMETER,
    str,
    required=False,
    description="The source key, for senders that cannot set a header.",
)


class AlertmanagerApi(_IntakeApi):
    kind = AlertSource.Kind.ALERTMANAGER

    @extend_schema(
        request=AlertmanagerInput,
        responses=AlertmanagerOutput,
        parameters=[_KEY_IN_URL],
        examples=[api_examples.ALERTMANAGER],
    )
    def post(self, request: Request) -> Response:
        """Prometheus Alertmanager webhook (``webhook_configs`` with ``authorization:
        {credentials: <source key>}``; ``max_alerts: 0`` is fine: any size is read)."""
        return super().post(request)


class GrafanaApi(_IntakeApi):
    kind = AlertSource.Kind.GRAFANA

    def _normalize(self, payload: dict, dropped_by_cap: int) -> normalize.Notification:
        return normalize.alertmanager(payload, dropped_by_cap=dropped_by_cap, grafana=True)

    @extend_schema(request=GrafanaInput, responses=AlertmanagerOutput, parameters=[_KEY_IN_URL])
    def post(self, request: Request) -> Response:
        """Grafana Alerting webhook contact point (Authorization header: Bearer
        <source key>). Without grouping, each alert rule is its own group."""
        return super().post(request)


GENERIC_EXAMPLE = OpenApiExample(
    "One alert event",
    description="curl -X POST https://keel.example.com/api/v1/integrations/webhook/ "
    "-H 'Authorization: Bearer keelsrc_…' -H 'Content-Type: application/json' "
    '-d \'{"key": "checkout-5xx", "status": "firing", "title": "Checkout 5xx above 5%", '
    '"severity": "critical", "service": "checkout"}\'',
    value={
        "key": "checkout-5xx",
        "status": "firing",
        "title": "Checkout 5xx above 5%",
        "description": "5xx ratio 12% over 5 minutes",
        "severity": "critical",
        "service": "checkout",
        "labels": {"region": "eu-west-1"},
        "started_at": "2026-03-04T14:02:00Z",
        "url": "https://grafana.example.com/d/checkout",
    },
    request_only=True,
)


class GenericWebhookApi(_IntakeApi):
    kind = AlertSource.Kind.WEBHOOK

    def _normalize(self, payload: dict, dropped_by_cap: int) -> normalize.Notification:
        # A script someone can fix: refused with the field named, like any API input.
        return normalize.webhook(validated(GenericAlertInput, payload))

    @extend_schema(
        request=GenericAlertInput,
        responses=AlertmanagerOutput,
        parameters=[_KEY_IN_URL],
        examples=[GENERIC_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        """A generic JSON alert: one event, keyed by ``key`` (see the example's curl)."""
        return super().post(request)
