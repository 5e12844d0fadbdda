"""API plumbing shared by every app: pagination, the one error mapping."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from common import keyset
from common.db import is_unavailable
from common.exceptions import ApplicationError, RateLimited

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """The envelope as ``get_paginated_response`` writes it: all four keys, always
        (``next``/``previous`` null at the ends)."""
        page_link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "example": 123},
                "next": {**page_link, "example": "https://keel.example.com/api/v1/x/?page=3"},
                "previous": {**page_link, "example": "https://keel.example.com/api/v1/x/?page=1"},
                "results": schema,
            },
        }


COUNT_CAPPED_HEADER = "X-Count-Capped"
COUNT_DESCRIPTION = (
    "Matching rows, exact up to the count cap (10,000 unless the server sets "
    "`KEEL_LIST_COUNT_CAP`). With more rows than that, `count` is the cap and the "
    f"response carries `{COUNT_CAPPED_HEADER}: true`: counting a long history exactly "
    "would read every row."
)


class CappedPagination(Pagination):
    """``page`` pages of a list whose ``count`` is capped (``COUNT_DESCRIPTION``)."""

    def get_paginated_response_schema(self, schema: dict) -> dict:
        envelope = super().get_paginated_response_schema(schema)
        envelope["properties"]["count"]["description"] = COUNT_DESCRIPTION
        return envelope


class KeysetPagination(CappedPagination):
    """``page`` as before, and ``cursor`` (keyset paging, see ``common.keyset``): the
    ``next``/``previous`` links of a first or cursor page carry a cursor, those of a
    ``page=N`` request carry page numbers."""

    cursor_query_param = "cursor"

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "An opaque cursor from a `next` or `previous` link: the page "
                "after (or before) the row it names, stable while rows are added. Wins over "
                "`page`; an invalid cursor is 400 naming `cursor`.",
                "schema": {"type": "string", "maxLength": keyset.CURSOR_MAX},
            },
        ]


def keyset_paginated(
    request,
    view,
    queryset,
    serializer_class,
    *,
    name: str,
    keys,
    load,
    narrow: bool = False,
    counted=None,
    represent: Callable[[list], list] | None = None,
) -> Response:
    """``{count, next, previous, results}`` of one page, read by
    ``common.keyset.paginate`` (``keys``: the index-served order; ``load(pks)``: the
    page's rows with their joins; ``narrow``: a filter that leaves few rows;
    ``counted``: cheaper rows to count, as ``keyset.paginate`` takes them;
    ``represent(rows)``: the results as ``serializer_class`` would write them)."""
    paginator = view.pagination_class()
    page = keyset.paginate(
        queryset,
        name=name,
        keys=keys,
        size=paginator.get_page_size(request),
        load=load,
        cursor=request.query_params.get(paginator.cursor_query_param) or None,
        page=request.query_params.get(paginator.page_query_param),
        narrow=narrow,
        counted=counted,
    )
    return page_response(request, paginator, page, serializer_class, represent=represent)


def page_response(
    request,
    paginator: Pagination,
    page: keyset.Page,
    serializer_class,
    *,
    represent: Callable[[list], list] | None = None,
) -> Response:
    """The envelope of ``page``: cursor links for a first or cursor page, page-number
    links for a ``page=N`` request; ``X-Count-Capped`` when the count is capped. The
    results are ``represent(rows)`` when given (plain dicts built without a serializer
    per row), else ``serializer_class``'s."""
    url = remove_query_param(
        remove_query_param(request.build_absolute_uri(), paginator.page_query_param),
        getattr(paginator, "cursor_query_param", "cursor"),
    )
    if page.number is not None:
        next_link = (
            replace_query_param(url, paginator.page_query_param, page.number + 1)
            if page.has_next
            else None
        )
        previous_link = (
            replace_query_param(url, paginator.page_query_param, page.number - 1)
            if page.has_previous
            else None
        )
    else:
        next_link, previous_link = (
            replace_query_param(url, paginator.cursor_query_param, value) if value else None
            for value in (page.next_cursor, page.previous_cursor)
        )
    response = Response(
        {
            "count": page.count,
            "next": next_link,
            "previous": previous_link,
            "results": (
                represent(page.rows) if represent else serializer_class(page.rows, many=True).data
            ),
        }
    )
    if page.count_capped:
        response[COUNT_CAPPED_HEADER] = "true"
    return response


def _flatten(detail) -> dict | list | str:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _encodable(value):
    """Error messages echo the input ('"\\ud800" is not a valid choice.'); a lone
    surrogate in them cannot be encoded as UTF-8 and would turn a 400 into a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


def exception_handler(exc, context):
    """Map every error to the one shape (see ``_exception_handler``), safe to encode."""
    response = _exception_handler(exc, context)
    if response is not None:
        response.data = _encodable(response.data)
    return response


UNAVAILABLE_DETAIL = "The database is unavailable right now. Try again shortly."


def unavailable_response() -> Response:
    """503 with ``Retry-After``: a database outage is not the client's fault, and not
    a bug either — the client may simply retry (creating POSTs honour Idempotency-Key)."""
    return Response(
        {"detail": UNAVAILABLE_DETAIL, "code": "unavailable", "errors": {}},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(settings.KEEL_UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


def _exception_handler(exc, context):
    """Map every error to ``{"detail", "code", "errors"}`` with a 4xx status, or
    a 503 when the database is unavailable.

    ``errors`` names the fields at fault: ``{"title": ["Ensure this field has
    no more than 200 characters."]}``; it is ``{}`` when no field is at fault, so
    clients read one shape.
    """
    if is_unavailable(exc):
        view = context.get("view")
        logger.warning(
            "database unavailable during %s: %s: %s",
            type(view).__name__ if view else "an API call",
            type(exc).__name__,
            str(exc)[:300],
        )
        return unavailable_response()
    if isinstance(exc, ApplicationError):
        errors = {exc.field: [exc.message]} if exc.field else {}
        body = {"detail": exc.message, "code": exc.code, "errors": errors, **exc.extra}
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(
            {"detail": "Invalid input.", "code": "invalid", "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "Request body is too large.", "code": "request_too_large", "errors": {}},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors}
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": errors}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        response.data = {
            "detail": str(detail) if not isinstance(detail, dict | list) else _flatten(detail),
            "code": getattr(detail, "code", None) or exc.default_code,
            "errors": {},
        }
    return response


def validated(serializer_class, data, **kwargs) -> dict:
    """Validate ``data`` with an input serializer; a 400 names the fields at fault."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paginated(request, view, queryset, serializer_class) -> Response:
    """``{count, next, previous, results}`` of one ``page`` (``page_size`` up to 200).

    The view declares ``pagination_class = Pagination``: drf-spectacular reads it to
    describe the envelope and the ``page``/``page_size`` parameters, and this uses
    the same class, so the schema and the answer cannot differ."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
