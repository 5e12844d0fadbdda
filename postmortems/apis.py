"""REST API v1 for postmortems and action items (DESIGN.md's contract). Thin:
validate → one service call → serialize. Creating POSTs honour ``Idempotency-Key``.
A postmortem is visible exactly when its incident is."""

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import CappedPagination, KeysetPagination, page_response, validated
from common.idempotency import IDEMPOTENCY_HEADER, idempotent
from common.schema import refusal
from incidents.models import Incident
from incidents.selectors import incidents_visible_to
from postmortems import api_examples, evidence, selectors, services
from postmortems.documents import to_markdown
from postmortems.models import ActionItem, Postmortem
from postmortems.serializers import (
    ActionItemCreateInput,
    ActionItemFilter,
    ActionItemOutput,
    ActionItemUpdateInput,
    CommentInput,
    EvidenceInput,
    NoInput,
    PostmortemCreateInput,
    PostmortemListFilter,
    PostmortemListOutput,
    PostmortemOutput,
    PostmortemUpdateInput,
    PublishInput,
    SubmitInput,
    action_item_list_json,
    postmortem_list_json,
)


def _get(request: Request, pk: int) -> Postmortem:
    try:
        return selectors.postmortem_detail(user=request.user, pk=pk)
    except Postmortem.DoesNotExist as exc:
        raise Http404 from exc


def _document(request: Request, pk: int, status_code: int = 200) -> Response:
    return Response(PostmortemOutput(_get(request, pk)).data, status=status_code)


WRONG_STATUS = refusal("Not allowed in the postmortem's status (see `detail`).")


class PostmortemListApi(APIView):
    pagination_class = KeysetPagination

    @extend_schema(parameters=[PostmortemListFilter], responses=PostmortemListOutput(many=True))
    def get(self, request: Request) -> Response:
        """Newest first (`cursor` pages at any depth); with `search`, ranked by
        relevance and paged by `page` only."""
        filters = validated(PostmortemListFilter, request.query_params)
        search = filters.get("search", "")
        queryset = selectors.postmortem_list(
            user=request.user, status=filters.get("status", ""), search=search
        )
        paginator = self.pagination_class()
        page = selectors.postmortem_list_page(
            queryset,
            ranked=bool(search.strip()),
            size=paginator.get_page_size(request),
            cursor=request.query_params.get(paginator.cursor_query_param) or None,
            page=request.query_params.get(paginator.page_query_param),
        )
        return page_response(
            request, paginator, page, PostmortemListOutput, represent=postmortem_list_json
        )

    @extend_schema(
        request=PostmortemCreateInput,
        responses={
            201: PostmortemOutput,
            404: refusal("No such incident, or it is not visible to this user."),
            409: refusal("The incident has a postmortem already: see `postmortem`."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        examples=[api_examples.CREATE],
    )
    def post(self, request: Request) -> Response:
        """Start the incident's postmortem, pre-filled from what the incident recorded."""

        def start() -> Response:
            data = validated(PostmortemCreateInput, request.data)
            try:
                incident = incidents_visible_to(request.user).get(pk=data["incident"])
            except Incident.DoesNotExist as exc:
                raise Http404 from exc
            postmortem = services.postmortem_start(
                incident=incident, actor=request.user, template=data.get("template")
            )
            return _document(request, postmortem.pk, status.HTTP_201_CREATED)

        return idempotent(request, start)


class PostmortemDetailApi(APIView):
    @extend_schema(responses=PostmortemOutput)
    def get(self, request: Request, pk: int) -> Response:
        return _document(request, pk)

    @extend_schema(
        request=PostmortemUpdateInput,
        responses={
            200: PostmortemOutput,
            409: refusal(
                "Someone saved since `version` (see `current_version`, `last_saved_by`, "
                "`sections`), or the postmortem is published (read-only)."
            ),
        },
        examples=[api_examples.UPDATE],
    )
    def patch(self, request: Request, pk: int) -> Response:
        """Save sections by key; ``version`` must be the one you edited (else 409)."""
        postmortem = _get(request, pk)
        data = validated(PostmortemUpdateInput, request.data)
        services.postmortem_update(
            postmortem=postmortem,
            actor=request.user,
            expected_version=data["version"],
            sections=data.get("sections"),
            title=data.get("title"),
        )
        return _document(request, pk)


# A review step: POST validates ``input_class``, calls
# ``service(postmortem=, actor=, **fields)`` and answers with the postmortem as it now is,
# replayed for a repeated ``Idempotency-Key``. (A comment, not a docstring: the schema
# would show it as the description of the steps that have none.)
class _WorkflowApi(APIView):
    input_class = CommentInput
    service = None

    def post(self, request: Request, pk: int) -> Response:
        postmortem = _get(request, pk)

        def act() -> Response:
            fields = validated(self.input_class, request.data)
            type(self).service(postmortem=postmortem, actor=request.user, **fields)
            return _document(request, pk)

        return idempotent(request, act)


class PostmortemSubmitApi(_WorkflowApi):
    input_class = SubmitInput
    service = services.postmortem_submit

    @extend_schema(
        request=SubmitInput,
        responses={200: PostmortemOutput, 409: WRONG_STATUS},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        """draft → in review, with named reviewers (usernames)."""
        return super().post(request, pk)


class PostmortemApproveApi(_WorkflowApi):
    service = services.postmortem_approve

    @extend_schema(
        request=CommentInput,
        responses={200: PostmortemOutput, 409: WRONG_STATUS},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class PostmortemRequestChangesApi(_WorkflowApi):
    service = services.postmortem_request_changes

    @extend_schema(
        request=CommentInput,
        responses={200: PostmortemOutput, 409: WRONG_STATUS},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class PostmortemPublishApi(_WorkflowApi):
    input_class = PublishInput
    service = services.postmortem_publish

    @extend_schema(
        request=PublishInput,
        responses={
            200: PostmortemOutput,
            409: refusal("Not in review, or approvals are awaited (see `pending`)."),
        },
        parameters=[IDEMPOTENCY_HEADER],
        examples=[api_examples.PUBLISH],
    )
    def post(self, request: Request, pk: int) -> Response:
        """in review → published; the incident moves to share; audiences are notified."""
        return super().post(request, pk)


class PostmortemRetroCompleteApi(_WorkflowApi):
    input_class = NoInput
    service = services.retro_complete

    @extend_schema(
        request=None,
        responses={200: PostmortemOutput, 409: WRONG_STATUS},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        """The retro was held: the incident moves to retrospect."""
        return super().post(request, pk)


class PostmortemExportApi(APIView):
    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> HttpResponse:
        postmortem = _get(request, pk)
        response = HttpResponse(
            to_markdown(postmortem), content_type="text/markdown; charset=utf-8"
        )
        name = f"postmortem-{postmortem.pk}-incident-{postmortem.incident_id}.md"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _get_item(request: Request, pk: int) -> ActionItem:
    try:
        return selectors.action_items_shown(user=request.user).get(pk=pk)
    except ActionItem.DoesNotExist as exc:
        raise Http404 from exc


class ActionItemListApi(APIView):
    pagination_class = CappedPagination

    @extend_schema(parameters=[ActionItemFilter], responses=ActionItemOutput(many=True))
    def get(self, request: Request) -> Response:
        filters = validated(ActionItemFilter, request.query_params)
        queryset = selectors.action_items_list(user=request.user, filters=filters)
        paginator = self.pagination_class()
        page = selectors.action_item_list_page(
            queryset,
            size=paginator.get_page_size(request),
            page=request.query_params.get(paginator.page_query_param),
        )
        return page_response(
            request, paginator, page, ActionItemOutput, represent=action_item_list_json
        )

    @extend_schema(
        request=ActionItemCreateInput,
        responses={
            201: ActionItemOutput,
            404: refusal("No such postmortem, or it is not visible to this user."),
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = dict(validated(ActionItemCreateInput, request.data))
            postmortem = _get(request, data.pop("postmortem"))
            item = services.action_item_create(postmortem=postmortem, actor=request.user, data=data)
            return Response(ActionItemOutput(_get_item(request, item.pk)).data, status=201)

        return idempotent(request, create)


class ActionItemDetailApi(APIView):
    @extend_schema(responses=ActionItemOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ActionItemOutput(_get_item(request, pk)).data)

    @extend_schema(request=ActionItemUpdateInput, responses=ActionItemOutput)
    def patch(self, request: Request, pk: int) -> Response:
        item = _get_item(request, pk)
        data = dict(validated(ActionItemUpdateInput, request.data))
        services.action_item_update(item=item, actor=request.user, data=data)
        return Response(ActionItemOutput(_get_item(request, pk)).data)


class ActionItemEvidenceApi(APIView):
    @extend_schema(
        request=EvidenceInput,
        responses=ActionItemOutput,
        description=(
            "Link a prevent or detect item to the metric that shows it works (or re-link "
            "it): a pasted series is checked at once, a query by a worker soon after and "
            "by the beat from then on. `evidence.verified` is true only while the series "
            "stayed on the right side of the threshold for `days` days."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        item = _get_item(request, pk)
        data = dict(validated(EvidenceInput, request.data))
        evidence.evidence_link(item=item, actor=request.user, **data)
        return Response(ActionItemOutput(_get_item(request, pk)).data)
