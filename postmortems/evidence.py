"""Action items verified by evidence, and the external tracker an item links to.

A *prevent* or *detect* item can be linked to a metric: a pasted series, or a PromQL
query run against the Prometheus-compatible API an admin configured
(``KEEL_METRICS_QUERY_URL``, ``/api/v1/query_range``), and a threshold the series
must stay below (or above). It is *verified* only when the series covers the last
``days`` days and every point in them is on the good side; the beat re-checks every
link (``action_items_check_evidence_task``), so a later breach un-verifies it.

The window ends now for a query and at the last point for a pasted series (a paste
is a record of the past). "Covers" allows 1 % of the window missing at its start (a
scrape or step boundary). Fetching happens in a worker, never in a request, with
the outbound total deadline (``common.outbound``); the result is written in a short
transaction of its own afterwards.
"""

import logging
import math
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import outbound
from common.enqueue import enqueue_on_commit
from common.exceptions import InvalidInput
from common.jsonguard import JSONInputError, parse_json
from postmortems import crossing, tasks
from postmortems import sections as kinds
from postmortems.models import NAME_MAX, QUERY_MAX, ActionItem, ActionItemEvidence, SectionKind
from postmortems.writes import audit, require_editor

logger = logging.getLogger(__name__)

Result = ActionItemEvidence.Result
COVERAGE_SLACK = 0.01
QUERY_POINTS_MAX = 1_000
QUERY_SERIES_MAX = 20
QUERY_BODY_MAX = 4 * 1024 * 1024


# --- trackers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Tracker:
    name: str
    key: str


_TRACKERS = (
    ("GitHub", re.compile(r"^https://github\.com/([\w.-]+/[\w.-]+)/(?:issues|pull)/(\d+)")),
    ("Linear", re.compile(r"^https://linear\.app/[\w-]+/issue/([A-Za-z][A-Za-z0-9]*-\d+)")),
    ("Jira", re.compile(r"^https?://[^/]+/(?:jira/)?browse/([A-Z][A-Z0-9_]+-\d+)")),
)


def tracker_of(url: str) -> Tracker | None:
    """The tracker (Jira, Linear, GitHub) and the issue's key a tracker URL names."""
    for name, pattern in _TRACKERS:
        match = pattern.match(url or "")
        if match:
            key = f"{match[1]}#{match[2]}" if name == "GitHub" else match[1].upper()
            return Tracker(name, key)
    return None


def link_of(item: ActionItem) -> ActionItemEvidence | None:
    """The item's evidence, or None (``select_related("evidence")`` saves the query)."""
    try:
        return item.evidence
    except ActionItemEvidence.DoesNotExist:
        return None


# --- linking ------------------------------------------------------------------------


def _float(value, label: str, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{label}: expected a number.", field=field) from None
    if number != number or abs(number) > kinds.NUMBER_ABS_MAX:
        raise InvalidInput(f"{label}: expected a finite number.", field=field)
    return number


_SERIES_LABEL = kinds.SPECS[SectionKind.METRICS].field_named("series").label


def _series(value) -> list[list]:
    """A pasted series (JSON points or CSV lines) checked as the metrics section checks
    one; its errors name the ``series`` field (``series, point 3: ...``)."""
    if value in (None, "", []):
        return []
    try:
        return kinds.validate(
            SectionKind.METRICS, {"rows": [{"name": "m", "series": value}]}, key="e"
        )["rows"][0]["series"]
    except InvalidInput as error:
        # "Metrics, row 1, Series (CSV: time,value), point 2: ..." → "Series, point 2: ..."
        rest = error.message.partition(_SERIES_LABEL)[2] or f": {error.message}"
        raise InvalidInput(f"Series{rest}", field="series") from None


@transaction.atomic
def evidence_link(
    *,
    item: ActionItem,
    actor,
    metric: str,
    threshold,
    stay: str = ActionItemEvidence.Stay.BELOW,
    days: int = 7,
    query: str = "",
    series="",
) -> ActionItemEvidence:
    """Link (or re-link) ``item`` to a metric and check it: a pasted series at once, a
    query by a worker after commit. Writes the evidence row and its history."""
    require_editor(actor)
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if not item.verifiable_by_metric:
        raise InvalidInput("Evidence: only prevent and detect items are verified.", field="kind")
    metric = (metric or "").strip()
    if not metric or len(metric) > NAME_MAX or "\n" in metric:
        raise InvalidInput(f"Metric: 1 to {NAME_MAX} characters on one line.", field="metric")
    query = (query or "").strip()
    if len(query) > QUERY_MAX or "\n" in query:
        raise InvalidInput(f"Query: at most {QUERY_MAX} characters on one line.", field="query")
    if stay not in ActionItemEvidence.Stay.values:
        raise InvalidInput("Must stay: expected below or above.", field="stay")
    if not isinstance(days, int) or not 1 <= days <= 90:
        raise InvalidInput("Days: a whole number from 1 to 90.", field="days")
    threshold = _float(threshold, "Threshold", "threshold")
    points = _series(series)
    if not points and not query:
        raise InvalidInput("Evidence: paste a series or give a query.", field="series")
    if query and not points and not settings.KEEL_METRICS_QUERY_URL:
        raise InvalidInput(
            "Query: no metrics source is configured (KEEL_METRICS_QUERY_URL); paste the series.",
            field="query",
        )
    evidence = ActionItemEvidence.objects.filter(action_item=item).first()
    evidence = evidence or ActionItemEvidence(action_item=item, created_by=actor)
    evidence.metric, evidence.query, evidence.series = metric, query, points
    evidence.threshold, evidence.stay, evidence.days = threshold, stay, days
    evidence.result, evidence.result_detail, evidence.verified_at = Result.UNCHECKED, "", None
    evidence.full_clean(exclude=["action_item", "created_by"])
    audit(evidence, actor=actor, reason="evidence linked")
    evidence.save()
    if points:
        _record(evidence, verdict(evidence, points, now=timezone.now()))
    else:
        enqueue_on_commit(
            [(tasks.action_item_evidence_check_task, (evidence.pk,))], what="evidence checks"
        )
    return evidence


# --- checking -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    result: str
    detail: str


def verdict(evidence: ActionItemEvidence, series: list[list], *, now: datetime) -> Verdict:
    """Whether ``series`` shows the item works (see the module's rules)."""
    if not series:
        return Verdict(Result.NOT_YET, "No data points yet.")
    end = now if evidence.query and not evidence.series else _at(series[-1][0])
    window = timedelta(days=evidence.days)
    start = end - window
    inside = [p for p in series if start <= _at(p[0]) <= end]
    bad_side = crossing.BELOW if evidence.stay == ActionItemEvidence.Stay.ABOVE else crossing.ABOVE
    bad = [p for p in inside if crossing.is_bad(p[1], evidence.threshold, bad_side)]
    if bad:
        last = bad[-1]
        return Verdict(
            Result.BREACHED,
            f"{len(bad)} point(s) on the wrong side of {evidence.threshold:g}; "
            f"last at {last[0]} ({last[1]:g}).",
        )
    covered = end - _at(inside[0][0]) if inside else timedelta(0)
    if covered < window * (1 - COVERAGE_SLACK):
        hours = covered.total_seconds() / 3600
        return Verdict(
            Result.NOT_YET,
            f"Good so far, over {hours:.1f} h of the {evidence.days} d needed.",
        )
    return Verdict(
        Result.VERIFIED,
        f"Stayed {evidence.stay} {evidence.threshold:g} for {evidence.days} d "
        f"({len(inside)} points).",
    )


def _at(value: str) -> datetime:
    return kinds.parse_when(value, "series")


def _record(evidence: ActionItemEvidence, result: Verdict) -> None:
    now = timezone.now()
    evidence.result, evidence.result_detail = result.result, result.detail[: NAME_MAX * 2]
    evidence.checked_at = now
    if result.result == Result.VERIFIED:
        evidence.verified_at = evidence.verified_at or now
    else:
        evidence.verified_at = None
    evidence._change_reason = f"checked: {result.result}"
    evidence.save(update_fields=["result", "result_detail", "checked_at", "verified_at"])


def fetch_series(evidence: ActionItemEvidence, *, now: datetime) -> list[list]:
    """The query's points over the last ``days`` days from the configured API (every
    series the query returns, merged). Raises ``OSError`` / ``ValueError`` on failure."""
    base = settings.KEEL_METRICS_QUERY_URL.rstrip("/")
    start = now - timedelta(days=evidence.days)
    step = max(60, int(evidence.days * 86_400 / QUERY_POINTS_MAX))
    params = urllib.parse.urlencode(
        {
            "query": evidence.query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{now.timestamp():.3f}",
            "step": str(step),
        }
    )
    request = urllib.request.Request(f"{base}/api/v1/query_range?{params}")
    if settings.KEEL_METRICS_QUERY_TOKEN:
        request.add_header("Authorization", f"Bearer {settings.KEEL_METRICS_QUERY_TOKEN}")
    # The admin's own monitoring: a private address is expected (the URL is not a
    # user's input; only the query string is, and it is URL-encoded).
    response = outbound.open_url(request, allow_private=True, max_bytes=QUERY_BODY_MAX + 1)
    if len(response.body) > QUERY_BODY_MAX:
        raise ValueError("the answer is too large")
    try:
        answer = parse_json(response.body, depth=8, max_bytes=QUERY_BODY_MAX)
    except JSONInputError as exc:
        raise ValueError("the answer is not JSON") from exc
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise ValueError(str(answer.get("error", "the query failed"))[:200])
    results = answer.get("data", {}).get("result", [])[:QUERY_SERIES_MAX]
    points = [
        [datetime.fromtimestamp(float(at), tz=UTC).isoformat(), float(value)]
        for result in results
        for at, value in result.get("values", [])
        if math.isfinite(float(value))  # NaN: no sample at that step
    ]
    return sorted(points, key=lambda p: p[0])


def evidence_check(*, evidence_id: int, now: datetime | None = None) -> str | None:
    """Re-check one link: fetch (outside any transaction), then record the verdict.
    Returns the result, or None when the link or its item is gone."""
    now = now or timezone.now()
    evidence = ActionItemEvidence.objects.filter(pk=evidence_id).first()
    if evidence is None:
        return None
    if evidence.series:
        result = verdict(evidence, evidence.series, now=now)
    else:
        try:
            result = verdict(evidence, fetch_series(evidence, now=now), now=now)
        except (OSError, ValueError) as exc:  # HTTPError and DeadlineExceeded are OSErrors
            logger.warning(
                "evidence query failed", extra={"evidence_id": evidence_id, "error": str(exc)}
            )
            result = Verdict(Result.UNAVAILABLE, f"The metrics source did not answer: {exc}")
    with transaction.atomic():
        evidence = ActionItemEvidence.objects.select_for_update().filter(pk=evidence_id).first()
        if evidence is None:
            return None
        _record(evidence, result)
    return result.result


def evidences_to_check() -> list[int]:
    """Every link whose item is still wanted (not won't-do)."""
    return list(
        ActionItemEvidence.objects.exclude(
            action_item__status=ActionItem.Status.WONT_DO
        ).values_list("pk", flat=True)
    )
