"""``GET, POST /api/v1/changes/``: change and deploy events, posted by CI (a token
with the ``intake`` or ``write`` scope) and listed for scripts and reports. Thin:
validate → one service call → serialize; POST honours ``Idempotency-Key``."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination, paginated, validated
from common.idempotency import IDEMPOTENCY_HEADER, idempotent
from incidents import changes
from incidents.change_serializers import ChangeInput, ChangeListFilter, ChangeOutput

RECORD_DEPLOY = OpenApiExample(
    "A deploy reported by CI",
    value={
        "service": "checkout",
        "kind": "deploy",
        "version": "2026.03.04-1",
        "who": "rita",
        "at": "2026-03-04T13:55:00Z",
        "link": "https://github.com/example/checkout/actions/runs/4242",
        "source": "github-actions",
    },
    request_only=True,
)
RECORDED = OpenApiExample(
    "The recorded change",
    value={
        "id": 17,
        "service": "checkout",
        "kind": "deploy",
        "version": "2026.03.04-1",
        "who": "rita",
        "at": "2026-03-04T13:55:00Z",
        "link": "https://github.com/example/checkout/actions/runs/4242",
        "source": "github-actions",
        "title": "Deploy of checkout 2026.03.04-1",
        "recorded_by": "ci-bot",
        "created_at": "2026-03-04T13:55:02Z",
    },
    response_only=True,
    status_codes=["201"],
)


class ChangeListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[ChangeListFilter],
        responses=ChangeOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """Changes, newest first; filter by service, kind and time."""
        filters = validated(ChangeListFilter, request.query_params)
        return paginated(request, self, changes.change_list(filters=filters), ChangeOutput)

    @extend_schema(
        request=ChangeInput,
        responses={201: ChangeOutput},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[RECORD_DEPLOY, RECORDED],
    )
    def post(self, request: Request) -> Response:
        """Record a change or deploy; the pages of incidents that follow it list it."""

        def record() -> Response:
            data = validated(ChangeInput, request.data)
            change = changes.change_record(actor=request.user, **data)
            return Response(ChangeOutput(change).data, status=status.HTTP_201_CREATED)

        return idempotent(request, record)
