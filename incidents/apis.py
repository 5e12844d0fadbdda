"""REST API v1 for incidents (the contract in DESIGN.md). Thin: validate → one
service call → serialize. Creating POSTs honour ``Idempotency-Key``."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common import keyset
from common.api import KeysetPagination, Pagination, keyset_paginated, paginated, validated
from common.idempotency import IDEMPOTENCY_HEADER, idempotent
from common.schema import bare_page_parameters, refusal
from incidents import api_examples, api_row_selectors, api_rows, history, selectors, services
from incidents.models import Incident, TimelineEvent
from incidents.serializers import (
    CloseInput,
    DecisionInput,
    DecisionOutput,
    HistoryEntryOutput,
    IncidentDeclareInput,
    IncidentListFilter,
    IncidentOutput,
    IncidentUpdateInput,
    NoteEditInput,
    NoteInput,
    NoteStrikeInput,
    RoleInput,
    StageMoveInput,
    StageTimeCorrectInput,
    TimelineEventOutput,
)

API = TimelineEvent.Source.API


def _get_incident(request: Request, pk: int) -> Incident:
    try:
        return selectors.incident_detail(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404 from exc


def _visible(request: Request, pk: int) -> Incident:
    """The incident without the joins of its full representation; 404 when hidden."""
    try:
        return selectors.incidents_visible_to(request.user).get(pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404 from exc


def _incident_response(request: Request, pk: int, status_code: int = 200) -> Response:
    return Response(IncidentOutput(_get_incident(request, pk)).data, status=status_code)


def _incident_action(request: Request, pk: int, serializer, service, **renamed) -> Response:
    """One action on an incident: the body validated by ``serializer``, passed to
    ``service`` (its fields renamed as ``renamed`` says, ``{field: argument}``), and the
    incident as it now is in the answer, replayed for a repeated ``Idempotency-Key``."""
    incident = _get_incident(request, pk)

    def act() -> Response:
        data = {
            renamed.get(name, name): value
            for name, value in validated(serializer, request.data).items()
        }
        service(incident=incident, actor=request.user, source=API, **data)
        return _incident_response(request, pk)

    return idempotent(request, act)


class IncidentListApi(APIView):
    pagination_class = KeysetPagination

    @extend_schema(parameters=[IncidentListFilter], responses=IncidentOutput(many=True))
    def get(self, request: Request) -> Response:
        """Newest first (detected); `cursor` pages through any depth at the same cost."""
        filters = validated(IncidentListFilter, request.query_params)
        queryset = selectors.incident_list(user=request.user, filters=filters)
        return keyset_paginated(
            request,
            self,
            queryset,
            IncidentOutput,
            name="incidents",
            keys=selectors.INCIDENT_LIST_ORDER,
            load=lambda pks: api_row_selectors.incident_api_rows(pks, user=request.user),
            narrow=selectors.incident_filters_narrow(filters),
            counted=selectors.incident_list_counted(user=request.user, filters=filters),
            represent=api_rows.incident_rows,
        )

    @extend_schema(
        request=IncidentDeclareInput,
        responses={201: IncidentOutput},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[api_examples.DECLARE],
    )
    def post(self, request: Request) -> Response:
        def declare() -> Response:
            data = validated(IncidentDeclareInput, request.data)
            incident = services.incident_declare(actor=request.user, source=API, **data)
            # Built from what the declare wrote, not read back through the detail query,
            # and written as ``IncidentOutput`` writes it without a serializer walking
            # its ~50 fields (``api_rows``, held to the same JSON by its tests).
            row = api_row_selectors.incident_declared_api_row(
                incident, services=data["services"], user=request.user
            )
            (answer,) = api_rows.incident_rows([row])
            return Response(answer, status=status.HTTP_201_CREATED)

        return idempotent(request, declare)


class IncidentDetailApi(APIView):
    @extend_schema(responses=IncidentOutput)
    def get(self, request: Request, pk: int) -> Response:
        return _incident_response(request, pk)

    @extend_schema(request=IncidentUpdateInput, responses=IncidentOutput)
    def patch(self, request: Request, pk: int) -> Response:
        incident = _get_incident(request, pk)
        data = validated(IncidentUpdateInput, request.data)
        services.incident_update(incident=incident, actor=request.user, data=dict(data), source=API)
        return _incident_response(request, pk)


class IncidentStageApi(APIView):
    @extend_schema(
        request=StageMoveInput,
        responses={
            200: IncidentOutput,
            409: refusal("An illegal move (backwards other than reopen, closed, already there)."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        examples=[api_examples.STAGE_MOVE],
    )
    def post(self, request: Request, pk: int) -> Response:
        return _incident_action(request, pk, StageMoveInput, services.incident_move, stage="to")


class IncidentCloseApi(APIView):
    @extend_schema(
        request=CloseInput,
        responses={
            200: IncidentOutput,
            409: refusal("The severity's closing rules do not hold yet: see `blockers`."),
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Close the incident. Without `outcome` (or `"outcome": "resolved"`) it closes
        from retrospect when the severity's rules hold, else 409 with `blockers`.
        `false_alarm`, `duplicate` (`duplicate_of`: the incident's number) and
        `declined` close from any stage with a reason in `note`; they are left out of
        the lifecycle metrics."""
        return _incident_action(request, pk, CloseInput, services.incident_close)


class IncidentStageTimeApi(APIView):
    @extend_schema(
        request=StageTimeCorrectInput,
        responses=IncidentOutput,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Correct when a reached stage was reached, or give a skipped stage its real
        time, with a reason: a "stage time corrected" event and a history row say from
        what to what, and the durations follow."""
        return _incident_action(
            request, pk, StageTimeCorrectInput, services.incident_stage_time_correct
        )


class IncidentTimelineApi(APIView):
    pagination_class = Pagination

    @extend_schema(responses=TimelineEventOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        incident = _get_incident(request, pk)
        return paginated(
            request, self, selectors.timeline_for(incident=incident), TimelineEventOutput
        )

    @extend_schema(
        request=NoteInput, responses={201: TimelineEventOutput}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request: Request, pk: int) -> Response:
        """Add a note to the timeline."""
        incident = _get_incident(request, pk)

        def add_note() -> Response:
            data = validated(NoteInput, request.data)
            event = services.note_add(
                incident=incident, text=data["text"], actor=request.user, source=API
            )
            return Response(TimelineEventOutput(event).data, status=status.HTTP_201_CREATED)

        return idempotent(request, add_note)


def _get_event(incident: Incident, event_id: int) -> TimelineEvent:
    try:
        return selectors.timeline_for(incident=incident).get(pk=event_id)
    except TimelineEvent.DoesNotExist as exc:
        raise Http404 from exc


class IncidentTimelineEventApi(APIView):
    @extend_schema(responses=TimelineEventOutput)
    def get(self, request: Request, pk: int, event_id: int) -> Response:
        event = _get_event(_get_incident(request, pk), event_id)
        return Response(TimelineEventOutput(event).data)

    @extend_schema(request=NoteEditInput, responses=TimelineEventOutput)
    def patch(self, request: Request, pk: int, event_id: int) -> Response:
        """Edit a note's text; the previous text stays in the history."""
        event = _get_event(_get_incident(request, pk), event_id)
        data = validated(NoteEditInput, request.data)
        event = services.note_edit(event=event, text=data["text"], actor=request.user, source=API)
        return Response(TimelineEventOutput(_get_event(event.incident, event.pk)).data)


class IncidentTimelineEventStrikeApi(APIView):
    @extend_schema(
        request=NoteStrikeInput, responses=TimelineEventOutput, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request: Request, pk: int, event_id: int) -> Response:
        """Strike a note through (kept, shown struck through with who, when and why)."""
        event = _get_event(_get_incident(request, pk), event_id)

        def strike() -> Response:
            data = validated(NoteStrikeInput, request.data)
            note = services.note_strike(
                event=event, reason=data["reason"], actor=request.user, source=API
            )
            return Response(TimelineEventOutput(_get_event(note.incident, note.pk)).data)

        return idempotent(request, strike)


class IncidentDecisionsApi(APIView):
    @extend_schema(responses=DecisionOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        incident = _get_incident(request, pk)
        return Response(DecisionOutput(incident.decisions.all(), many=True).data)

    @extend_schema(
        request=DecisionInput,
        responses={201: DecisionOutput},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[api_examples.DECISION],
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = _get_incident(request, pk)

        def record() -> Response:
            data = validated(DecisionInput, request.data)
            decision = services.decision_record(
                incident=incident, actor=request.user, source=API, **data
            )
            return Response(DecisionOutput(decision).data, status=status.HTTP_201_CREATED)

        return idempotent(request, record)


class IncidentRolesApi(APIView):
    @extend_schema(request=RoleInput, responses=IncidentOutput, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request: Request, pk: int) -> Response:
        """Hand a role (commander, communications lead, scribe) or add a responder."""
        return _incident_action(request, pk, RoleInput, services.incident_assign_role)


HISTORY_PAGE = history.PAGE_SIZE


class IncidentHistoryApi(APIView):
    @extend_schema(
        responses=HistoryEntryOutput(many=True),
        parameters=bare_page_parameters("entries", HISTORY_PAGE),
    )
    def get(self, request: Request, pk: int) -> Response:
        """The audit trail, oldest first, ``HISTORY_PAGE`` entries at a time (the
        ``Link`` header names the next page)."""
        after = history.history_after(request.query_params.get("cursor"))
        incident = _visible(request, pk)
        page = history.history_page(incident=incident, size=HISTORY_PAGE, after=after)
        cursor = None if page.next_after is None else history.history_cursor(page.next_after)
        return Response(
            HistoryEntryOutput(page.entries, many=True).data,
            headers=keyset.next_link(request, cursor),
        )
