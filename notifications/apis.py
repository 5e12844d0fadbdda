"""Status updates and deliveries of an incident (API v1)."""

from datetime import datetime

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import keyset
from common.api_fields import UsernameField, api_time
from common.idempotency import IDEMPOTENCY_HEADER, idempotent
from common.schema import bare_page_parameters, refusal
from common.validators import multi_line, single_line
from incidents.models import TITLE_MAX, Incident, TimelineEvent
from incidents.visibility import can_see
from notifications import cadence, problems, selectors, services
from notifications.models import (
    IMPACT_OVERRIDE_CHOICES,
    MESSAGE_MAX,
    UPDATE_PUBLIC_STATUS_CHOICES,
    Delivery,
    IncidentSlackChannel,
    PublicResolvedAction,
    StatusUpdate,
)
from notifications.slack import channel_provisioning

MAX_AUDIENCES = 20
MAX_COMPONENTS = 100


class UpdateInput(serializers.Serializer):
    message = serializers.CharField(max_length=MESSAGE_MAX, validators=[multi_line])
    audiences = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=MAX_AUDIENCES
    )
    public_status = serializers.ChoiceField(
        choices=UPDATE_PUBLIC_STATUS_CHOICES, required=False, allow_blank=True, default=""
    )
    public_title = serializers.CharField(
        max_length=TITLE_MAX, required=False, allow_blank=True, default="", validators=[single_line]
    )
    public_resolved_action = serializers.ChoiceField(
        choices=PublicResolvedAction.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed when the incident's public incident is resolved and this update "
        "is not: reopen it, or start a new public incident (needs a public_title).",
    )
    components = serializers.DictField(
        child=serializers.CharField(max_length=32),
        required=False,
        default=dict,
        help_text="Component slug or public id → status. Unknown ones are refused (400) "
        "with the list of valid components.",
    )
    public_impact = serializers.ChoiceField(
        choices=IMPACT_OVERRIDE_CHOICES,
        required=False,
        allow_blank=True,
        default="",
        help_text="Impact override of the public incident (Statuspage's impact_override); "
        "empty: the worst component status decides (degraded → minor, partial outage → "
        "major, major outage → critical).",
    )
    next_update_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_components(self, value: dict) -> dict:
        if len(value) > MAX_COMPONENTS:
            raise serializers.ValidationError(f"At most {MAX_COMPONENTS} components.")
        if any(len(key) > 100 for key in value):
            raise serializers.ValidationError("Component slugs are at most 100 characters.")
        return value


class ProblemOutput(serializers.Serializer):
    state = serializers.CharField(help_text="dead, held or stuck")
    reason = serializers.CharField()
    action = serializers.CharField(help_text="What fixes it.")
    replayable = serializers.BooleanField(help_text="Whether a Replay now can succeed.")


class DeliveryOutput(serializers.ModelSerializer):
    audience = serializers.CharField(source="destination.audience.slug")
    destination = serializers.CharField(source="destination.name")
    channel = serializers.CharField(source="destination.kind")
    update = serializers.IntegerField(source="update_id")
    problem = serializers.SerializerMethodField(
        help_text="Why it has not reached its audience and what fixes it (deliveries list "
        "and replay only; null when it is fine or on its way)."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "update",
            "audience",
            "destination",
            "channel",
            "status",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "external_id",
            "last_error",
            "failure",
            "problem",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ProblemOutput(allow_null=True))
    def get_problem(self, delivery) -> dict | None:
        problem = self.context.get("problems", {}).get(delivery.pk)
        return ProblemOutput(problem).data if problem else None


def delivery_rows(deliveries: list[Delivery], *, problems: dict) -> list[dict]:
    """``DeliveryOutput(deliveries, many=True, context={"problems": problems}).data``
    as plain dicts: a page of a hundred deliveries, each with its nested problem, was
    most of the list's CPU through the serializers."""
    zone = timezone.get_current_timezone()
    rows = []
    for delivery in deliveries:
        destination = delivery.destination
        problem = problems.get(delivery.pk)
        rows.append(
            {
                "id": str(delivery.pk),
                "update": delivery.update_id,
                "audience": destination.audience.slug,
                "destination": destination.name,
                "channel": destination.kind,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "next_attempt_at": api_time(delivery.next_attempt_at, zone),
                "sent_at": api_time(delivery.sent_at, zone),
                "external_id": delivery.external_id,
                "last_error": delivery.last_error,
                "failure": delivery.failure,
                "problem": (
                    {
                        "state": problem.state,
                        "reason": problem.reason,
                        "action": problem.action,
                        "replayable": problem.replayable,
                    }
                    if problem
                    else None
                ),
                "created_at": api_time(delivery.created_at, zone),
                "updated_at": api_time(delivery.updated_at, zone),
            }
        )
    return rows


class UpdateOutput(serializers.ModelSerializer):
    audiences = serializers.SerializerMethodField()
    created_by = UsernameField()
    deliveries = DeliveryOutput(many=True)

    class Meta:
        model = StatusUpdate
        fields = [
            "id",
            "kind",
            "message",
            "public_status",
            "public_title",
            "public_resolved_action",
            "public_impact",
            "components",
            "next_update_at",
            "audiences",
            "created_by",
            "created_at",
            "deliveries",
        ]

    def get_audiences(self, update) -> list[str]:
        return [audience.slug for audience in update.audiences.all()]


_TIME = serializers.DateTimeField()


def _time(value: datetime | None) -> str | None:
    return None if value is None else _TIME.to_representation(value)


def posted_answer(update: StatusUpdate) -> dict:
    """``UpdateOutput(update).data`` for an update ``update_post`` just wrote (with
    ``selectors.update_as_posted``), written out: building the two model serializers'
    fields cost more than the rest of the answer. Its deliveries are new, so none has
    a problem to show yet. ``tests/notifications/test_update_answer.py`` holds the
    two to the same JSON."""
    return {
        "id": update.pk,
        "kind": update.kind,
        "message": update.message,
        "public_status": update.public_status,
        "public_title": update.public_title,
        "public_resolved_action": update.public_resolved_action,
        "public_impact": update.public_impact,
        "components": update.components,
        "next_update_at": _time(update.next_update_at),
        "audiences": [audience.slug for audience in update.audiences.all()],
        "created_by": update.created_by.get_username() if update.created_by else None,
        "created_at": _time(update.created_at),
        "deliveries": [
            {
                "id": str(delivery.pk),
                "update": delivery.update_id,
                "audience": delivery.destination.audience.slug,
                "destination": delivery.destination.name,
                "channel": delivery.destination.kind,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "next_attempt_at": _time(delivery.next_attempt_at),
                "sent_at": _time(delivery.sent_at),
                "external_id": delivery.external_id,
                "last_error": delivery.last_error,
                "failure": delivery.failure,
                "problem": None,
                "created_at": _time(delivery.created_at),
                "updated_at": _time(delivery.updated_at),
            }
            for delivery in update.deliveries.all()
        ],
    }


def _incident(request: Request, pk: int) -> Incident:
    """The incident with its severity (every message names it); 404 when the reader
    may not see it. Read by its key and checked after (``visibility.can_see``): the
    visibility filter's subqueries cost more to build than the row to read, and only
    a private incident needs them (one more query then)."""
    try:
        incident = Incident.objects.select_related("severity").get(pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404 from exc
    if not can_see(request.user, incident):
        raise Http404
    return incident


PUBLIC_INCIDENT_RESOLVED = refusal(
    "The public incident is resolved and this update would resolve it again "
    "(code `public_incident_resolved`)."
)
UPDATE_EXAMPLE = OpenApiExample(
    "Identified, told to everyone",
    value={
        "message": "We found the cause (a config push) and are rolling it back.",
        "audiences": ["responders", "cs", "business", "public"],
        "public_status": "identified",
        "public_title": "Checkout errors",
        "components": {"checkout": "partial_outage"},
    },
    request_only=True,
)


UPDATES_PAGE = selectors.UPDATES_PAGE


class IncidentUpdatesApi(APIView):
    @extend_schema(
        responses=UpdateOutput(many=True),
        parameters=bare_page_parameters("updates", UPDATES_PAGE),
    )
    def get(self, request: Request, pk: int) -> Response:
        """Oldest first, ``UPDATES_PAGE`` at a time with their deliveries and what is
        wrong with any of them, as the deliveries list says it (the ``Link`` header
        names the next page)."""
        incident = _incident(request, pk)
        page = selectors.updates_page(
            incident=incident, cursor=request.query_params.get("cursor"), size=UPDATES_PAGE
        )
        deliveries = [delivery for update in page.rows for delivery in update.deliveries.all()]
        found = {p.delivery.pk: p for p in problems.problems_of_page(deliveries, incident=incident)}
        return Response(
            UpdateOutput(page.rows, many=True, context={"problems": found}).data,
            headers=keyset.next_link(request, page.next_cursor),
        )

    @extend_schema(
        request=UpdateInput,
        responses={201: UpdateOutput, 409: PUBLIC_INCIDENT_RESOLVED},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[UPDATE_EXAMPLE],
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = _incident(request, pk)

        def post_update() -> Response:
            serializer = UpdateInput(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            update = services.update_post(
                incident=incident,
                actor=request.user,
                source=TimelineEvent.Source.API,
                message=data["message"],
                audiences=data.get("audiences"),
                public_status=data["public_status"],
                public_title=data["public_title"],
                public_resolved_action=data["public_resolved_action"],
                public_impact=data["public_impact"],
                components=data["components"],
                next_update_at=data["next_update_at"],
            )
            # Built from what the write holds, not read back.
            update = selectors.update_as_posted(update)
            return Response(posted_answer(update), status=status.HTTP_201_CREATED)

        return idempotent(request, post_update)


class ComponentAfterOutput(serializers.Serializer):
    slug = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()
    now = serializers.CharField()
    after = serializers.CharField()
    because = serializers.ListField(child=serializers.CharField())
    override = serializers.CharField(allow_blank=True)


class AudiencePreviewOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    destinations = serializers.ListField(child=serializers.CharField())


class UpdatePreviewOutput(serializers.Serializer):
    audiences = AudiencePreviewOutput(many=True)
    components = ComponentAfterOutput(many=True)
    public_impact = serializers.CharField(
        allow_null=True, help_text="The impact the public incident will show (null: not public)."
    )


class IncidentUpdatePreviewApi(APIView):
    @extend_schema(
        request=UpdateInput,
        responses={200: UpdatePreviewOutput, 409: PUBLIC_INCIDENT_RESOLVED},
        examples=[UPDATE_EXAMPLE],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Check an update exactly as posting would (same refusals) and say what it
        would do: the audiences told and, per status page component, its status now,
        after, and why (e.g. resolving one of two incidents sharing a component)."""
        incident = _incident(request, pk)
        serializer = UpdateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preview = services.update_preview(
            incident=incident,
            actor=request.user,
            message=data["message"],
            audiences=data.get("audiences"),
            public_status=data["public_status"],
            public_title=data["public_title"],
            public_resolved_action=data["public_resolved_action"],
            public_impact=data["public_impact"],
            components=data["components"],
            next_update_at=data["next_update_at"],
        )
        return Response(UpdatePreviewOutput(preview).data)


class CadenceOutput(serializers.Serializer):
    audience = serializers.CharField(source="audience.slug")
    last_update_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField()
    overdue = serializers.BooleanField()
    first_update_at = serializers.DateTimeField(allow_null=True)
    first_delivered_at = serializers.DateTimeField(allow_null=True)
    time_to_first_update_seconds = serializers.SerializerMethodField()

    def get_time_to_first_update_seconds(self, row) -> int | None:
        delta = row.time_to_first_update
        return None if delta is None else int(delta.total_seconds())


class IncidentCadenceApi(APIView):
    @extend_schema(responses=CadenceOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """Per audience: last update, when the next is due, overdue, time to first update."""
        incident = _incident(request, pk)
        rows = cadence.cadence_for(incident=incident, now=timezone.now())
        return Response(CadenceOutput(rows, many=True).data)


DELIVERIES_PAGE = selectors.DELIVERIES_PAGE


class IncidentDeliveriesApi(APIView):
    @extend_schema(
        responses=DeliveryOutput(many=True),
        parameters=bare_page_parameters("deliveries", DELIVERIES_PAGE),
    )
    def get(self, request: Request, pk: int) -> Response:
        """Oldest first, ``DELIVERIES_PAGE`` at a time (the ``Link`` header names the
        next page)."""
        incident = _incident(request, pk)
        page = selectors.deliveries_page(
            incident=incident, cursor=request.query_params.get("cursor"), size=DELIVERIES_PAGE
        )
        found = {p.delivery.pk: p for p in problems.problems_of_page(page.rows, incident=incident)}
        return Response(
            delivery_rows(page.rows, problems=found),
            headers=keyset.next_link(request, page.next_cursor),
        )


class DeliveryReplayApi(APIView):
    @extend_schema(request=None, responses=DeliveryOutput)
    def post(self, request: Request, pk: int, delivery_id) -> Response:
        incident = _incident(request, pk)
        delivery = selectors.deliveries_for(incident=incident).filter(pk=delivery_id).first()
        if delivery is None:
            raise Http404
        delivery = services.delivery_replay(delivery=delivery, actor=request.user)
        delivery = selectors.deliveries_for(incident=incident).get(pk=delivery.pk)
        return Response(DeliveryOutput(delivery).data)


class SlackChannelOutput(serializers.ModelSerializer):
    class Meta:
        model = IncidentSlackChannel
        fields = ["status", "name", "channel_id", "invited", "last_error", "created_at"]


class IncidentSlackChannelApi(APIView):
    @extend_schema(request=None, responses={200: SlackChannelOutput, 202: SlackChannelOutput})
    def post(self, request: Request, pk: int) -> Response:
        """Open the incident's own Slack channel: 202 while a worker sets it up,
        200 when it exists already (nothing is done again)."""
        incident = _incident(request, pk)
        channel, queued = channel_provisioning.incident_slack_channel_open(
            incident=incident, actor=request.user
        )
        return Response(
            SlackChannelOutput(channel).data,
            status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK,
        )
