"""The frame of the pickers' JSON search endpoints (``/search/people/?q=`` and
``/search/services/?q=``, in ``incidents.search``: people are offered by role, and
``common`` imports no app).

Every answer is ``{"query": q, "results": [{"id", "key", "label", "detail"}, ...]}``,
at most ``SEARCH_RESULTS_MAX`` results. A signed-in user only (401 otherwise); ``q``
at most ``SEARCH_QUERY_MAX`` characters (400 naming it); a per-user rate limit (429
with ``Retry-After``) generous enough for typing, and a short private cache lifetime
so a picker that asks the same question again is answered by the browser.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from common import ratelimit

SEARCH_QUERY_MAX = 100
SEARCH_RESULTS_MAX = 20
SEARCH_WORDS_MAX = 5
SEARCH_CACHE_SECONDS = 30


def _error(status: int, message: str, *, code: str, field: str | None = None) -> JsonResponse:
    errors = {field: [message]} if field else {}
    return JsonResponse({"detail": message, "code": code, "errors": errors}, status=status)


def search_endpoint(scope: str):
    """Wrap ``search(request, q) -> list[dict]`` as a JSON endpoint with the checks above."""

    def decorator(search: Callable[[HttpRequest, str], list[dict]]):
        @require_GET
        @wraps(search)
        def view(request: HttpRequest) -> JsonResponse:
            if not request.user.is_authenticated:
                return _error(401, "Sign in to search.", code="not_authenticated")
            decision = ratelimit.hit(
                f"search-{scope}",
                str(request.user.pk),
                limit=settings.KEEL_SEARCH_RATE_LIMIT,
                window=60,
            )
            if not decision.allowed:
                response = _error(
                    429,
                    f"Too many searches; retry in {decision.retry_after} s.",
                    code="throttled",
                )
                response["Retry-After"] = str(decision.retry_after)
                return response
            q = request.GET.get("q", "")
            if len(q) > SEARCH_QUERY_MAX:
                return _error(
                    400,
                    f"Search: at most {SEARCH_QUERY_MAX} characters (this has {len(q)}).",
                    code="invalid",
                    field="q",
                )
            q = " ".join(q.split())
            results = search(request, q)[:SEARCH_RESULTS_MAX]
            response = JsonResponse({"query": q, "results": results})
            response["Cache-Control"] = f"private, max-age={SEARCH_CACHE_SECONDS}"
            response["Vary"] = "Cookie"
            return response

        return view

    return decorator


def words(q: str) -> list[str]:
    """The query's words (each must match); a few at most, so a query stays cheap."""
    return q.split()[:SEARCH_WORDS_MAX]


def match_all_words(queryset: QuerySet, q: str, fields: tuple[str, ...]) -> QuerySet:
    """Rows where every word of ``q`` is in one of ``fields`` (case-insensitive)."""
    for word in words(q):
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(condition)
    return queryset
