"""Have we met this before? The past incidents most like a new one, ranked.

Ranking (a point system; the weights say which evidence counts most):

    score = 3 * services shared
          + 2 * failure patterns shared   (the incident's tags and its postmortem's)
          + 2 * failure points shared     (postmortem failure-point components)
          + 1 * middleware shared         (postmortem middleware names)
          + 2 * alert names shared        (Alertmanager ``alertname`` of its alert groups)
          + 4 * text similarity           (0..1, title and summary against title,
                                           summary and postmortem text)

Names are compared case-insensitively. Text similarity on PostgreSQL is the larger
of the trigram similarity of the titles (``pg_trgm``) and the full-text rank
(``SearchRank`` with normalisation 32, i.e. rank / (rank + 1), doubled and capped at
1) of the incident's words against the candidate's title (weight A), summary (B) and
postmortem (C); elsewhere (SQLite) it is the larger of the same trigram similarity
computed in Python and the share of the query's words the candidate's text contains.
Ties go to the more recent incident. A candidate needs a score of at least
``MIN_SCORE`` to be shown.

Candidates are the incidents the reader may see (``incidents.visibility``), never the
incident itself or its duplicates; on PostgreSQL the database pre-selects the
``CANDIDATES_MAX`` best by shared service, pattern or text, elsewhere the most
recent ``CANDIDATES_MAX``. Each result says what was chosen to fix it (the chosen
remediation option, else the last judge-stage decision) and how its action items
ended.
"""

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, FloatField, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Greatest, Least

from incidents.models import Decision, Incident
from incidents.visibility import incidents_visible_to
from postmortems import sections
from postmortems.models import ActionItem, RemediationOption, SectionKind

WEIGHTS = {
    "services": 3.0,
    "failure_patterns": 2.0,
    "failure_points": 2.0,
    "middleware": 1.0,
    "alert_names": 2.0,
    "text": 4.0,
}
MIN_SCORE = 1.0
CANDIDATES_MAX = 200
RESULTS_DEFAULT = 5
QUERY_WORDS_MAX = 30
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_ALERTNAME = re.compile(r'alertname="([^"]{1,200})"')
LABELS = {
    "services": "services",
    "failure_patterns": "failure patterns",
    "failure_points": "failure points",
    "middleware": "middleware",
    "alert_names": "alerts",
}


@dataclass
class Signature:
    """What a (new or past) incident is made of, for comparing."""

    title: str = ""
    text: str = ""
    services: set[str] = field(default_factory=set)
    failure_patterns: set[str] = field(default_factory=set)
    failure_points: set[str] = field(default_factory=set)
    middleware: set[str] = field(default_factory=set)
    alert_names: set[str] = field(default_factory=set)


@dataclass
class Similar:
    incident: Incident
    score: float
    shared: dict[str, list[str]]
    text_similarity: float
    remediation: str
    action_items_done: int
    action_items_total: int
    action_items: list[ActionItem]

    @property
    def alike(self) -> str:
        parts = [f"{LABELS[k]}: {', '.join(v)}" for k, v in self.shared.items() if v]
        if self.text_similarity >= 0.3:
            parts.append("similar wording")
        return "; ".join(parts)

    @property
    def action_items_summary(self) -> str:
        if not self.action_items_total:
            return "no action items"
        return f"{self.action_items_done} of {self.action_items_total} action items done"


def _names(values) -> set[str]:
    return {str(v).strip().lower() for v in values if str(v).strip()}


def _words(text: str) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text or "")))[:QUERY_WORDS_MAX]


def _alert_names(groups) -> set[str]:
    return _names(n for g in groups for n in _ALERTNAME.findall(g.group_key))


def _section_rows(postmortem, kind: str, column: str) -> set[str]:
    return _names(
        row.get(column, "")
        for s in sections.of_kind(postmortem.sections.all(), kind)
        for row in s.content.get("rows", [])
    )


def signature_of(incident: Incident) -> Signature:
    """The signature of a saved incident (prefetched as ``_candidates`` does)."""
    sig = Signature(
        title=incident.title,
        text=f"{incident.title}\n{incident.summary}",
        services=_names(s.slug for s in incident.services.all()),
        failure_patterns=_names(incident.failure_patterns or []),
        alert_names=_alert_names(incident.alert_groups.all()),
    )
    postmortem = getattr(incident, "postmortem", None) if _has_postmortem(incident) else None
    if postmortem is not None:
        sig.text += "\n" + postmortem.search_document[:20_000]
        sig.failure_points = _section_rows(postmortem, SectionKind.FAILURE_POINTS, "component")
        sig.middleware = _section_rows(postmortem, SectionKind.MIDDLEWARE, "name")
        for s in sections.of_kind(postmortem.sections.all(), SectionKind.ROOT_CAUSE):
            sig.failure_patterns |= _names(s.content.get("failure_patterns", []))
    return sig


def _has_postmortem(incident: Incident) -> bool:
    try:
        incident.postmortem  # noqa: B018  (the reverse one-to-one raises when absent)
    except Incident.postmortem.RelatedObjectDoesNotExist:
        return False
    return True


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: each lower-cased word padded with two spaces before, one after."""
    grams = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"  {word} "
        grams |= {padded[i : i + 3] for i in range(len(padded) - 2)}
    return grams


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's ``similarity(a, b)``: shared trigrams over all trigrams (0..1)."""
    left, right = trigrams(a), trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def python_text_similarity(query: Signature, candidate: Signature) -> float:
    """The fallback text similarity (0..1): the titles' trigram similarity, or the share
    of the query's words the candidate's text contains, whichever is larger."""
    words = _words(query.text)
    found = set(_words(candidate.text[:50_000])) if words and candidate.text else set()
    share = sum(1 for w in words if w in found) / len(words) if words else 0.0
    return max(trigram_similarity(query.title, candidate.title), share)


def with_related(incidents: QuerySet) -> QuerySet:
    """``incidents`` with everything ``rank`` reads, in a fixed number of queries."""
    return incidents.select_related("postmortem", "severity").prefetch_related(
        "services",
        "alert_groups",
        "postmortem__sections",
        Prefetch(
            "postmortem__remediation_options",
            queryset=RemediationOption.objects.filter(chosen=True),
            to_attr="chosen_options",
        ),
        Prefetch("postmortem__action_items", queryset=ActionItem.objects.select_related("owner")),
        Prefetch("decisions", queryset=Decision.objects.order_by("-decided_at", "-id")),
    )


def _candidates(*, visible: QuerySet, query: Signature, exclude_ids: set[int]) -> QuerySet:
    base = visible.exclude(pk__in=exclude_ids).exclude(duplicate_of_id__in=exclude_ids)
    if connection.vendor == "postgresql":
        base = _postgres_preselect(base, query)
    else:
        base = base.order_by("-detected_at")
    return with_related(base)[:CANDIDATES_MAX]


def _postgres_preselect(base: QuerySet, query: Signature) -> QuerySet:
    from django.contrib.postgres.search import (
        SearchQuery,
        SearchRank,
        SearchVector,
        TrigramSimilarity,
    )

    words = _words(query.text)
    text = Value(0.0, output_field=FloatField())
    if words:
        vector = (
            SearchVector("title", weight="A", config="simple")
            + SearchVector("summary", weight="B", config="simple")
            + SearchVector("postmortem__search_document", weight="C", config="simple")
        )
        search = SearchQuery(" | ".join(words), search_type="raw", config="simple")
        rank = SearchRank(vector, search, normalization=32) * Value(2.0)
        text = Least(Value(1.0), rank)
    trigram = TrigramSimilarity("title", query.title or "")
    base = base.annotate(text_similarity=Greatest(text, trigram, output_field=FloatField()))
    shared = Q(text_similarity__gt=0.1)
    if query.services:
        shared |= Q(services__slug__in=query.services)
    for pattern in query.failure_patterns:
        shared |= Q(failure_patterns__contains=[pattern])
    # Rows only: the services join may repeat an incident, hence distinct on the key.
    matching = base.filter(shared).values("pk")
    return base.filter(pk__in=matching).order_by(
        F("text_similarity").desc(nulls_last=True), "-detected_at"
    )


def _remediation(incident: Incident) -> str:
    postmortem = incident.postmortem if _has_postmortem(incident) else None
    chosen = postmortem.chosen_options if postmortem is not None else []
    if chosen:
        option = chosen[0]
        return f"{option.title} — {option.reason}" if option.reason else option.title
    decisions = list(incident.decisions.all())
    if decisions:
        return f"{decisions[0].chosen} — {decisions[0].rationale}"
    return ""


def rank(query: Signature, candidates) -> list[Similar]:
    """Score every candidate against ``query`` (see the module's ranking), best first."""
    results = []
    for incident in candidates:
        sig = signature_of(incident)
        shared = {
            name: sorted(getattr(query, name) & getattr(sig, name))
            for name in ("services", "failure_patterns", "failure_points", "middleware")
        }
        shared["alert_names"] = sorted(query.alert_names & sig.alert_names)
        text = getattr(incident, "text_similarity", None)
        if text is None:
            text = python_text_similarity(query, sig)
        score = sum(WEIGHTS[name] * len(values) for name, values in shared.items())
        score += WEIGHTS["text"] * float(text)
        if score < MIN_SCORE:
            continue
        items = list(incident.postmortem.action_items.all()) if _has_postmortem(incident) else []
        results.append(
            Similar(
                incident=incident,
                score=round(score, 3),
                shared=shared,
                text_similarity=round(float(text), 3),
                remediation=_remediation(incident),
                action_items_done=sum(1 for i in items if i.status == ActionItem.Status.DONE),
                action_items_total=len(items),
                action_items=items,
            )
        )
    results.sort(key=lambda r: (-r.score, -r.incident.detected_at.timestamp()))
    return results


def similar_to_incident(*, incident: Incident, user, limit: int = RESULTS_DEFAULT):
    """The earlier incidents ``user`` may see that are most like ``incident``."""
    query = signature_of(
        Incident.objects.select_related("postmortem")
        .prefetch_related("services", "alert_groups", "postmortem__sections")
        .get(pk=incident.pk)
    )
    exclude = {incident.pk} | ({incident.duplicate_of_id} if incident.duplicate_of_id else set())
    visible = incidents_visible_to(user).filter(detected_at__lt=incident.detected_at)
    return rank(query, _candidates(visible=visible, query=query, exclude_ids=exclude))[:limit]


def similar_to_draft(*, user, title: str, summary: str = "", services=(), limit=RESULTS_DEFAULT):
    """While declaring: the past incidents ``user`` may see most like what is typed."""
    query = Signature(
        title=title, text=f"{title}\n{summary}", services=_names(s.slug for s in services)
    )
    if not _words(query.text) and not query.services:
        return []
    visible = incidents_visible_to(user)
    return rank(query, _candidates(visible=visible, query=query, exclude_ids=set()))[:limit]


def recurrence_rows(incident: Incident) -> list[dict]:
    """The *Recurrence* section's pre-fill. A postmortem is read by everyone who sees its
    incident, so only public past incidents are named here, whoever starts it."""
    query = signature_of(incident)
    exclude = {incident.pk} | ({incident.duplicate_of_id} if incident.duplicate_of_id else set())
    visible = Incident.objects.filter(private=False, detected_at__lt=incident.detected_at)
    public = _candidates(visible=visible, query=query, exclude_ids=exclude)
    return [
        {
            "incident": result.incident.pk,
            "title": result.incident.title[:200],
            "alike": result.alike[:1_000],
            "remediation": result.remediation[:2_000],
            "action_items": _items_text(result)[:2_000],
            "why_again": "",
        }
        for result in rank(query, public)[:RESULTS_DEFAULT]
    ]


def _items_text(result: Similar) -> str:
    """``1 of 2 action items done: Breaker (done); Alert on p99 (open).``"""
    items = [f"{i.title} ({i.get_status_display().lower()})" for i in result.action_items[:10]]
    return result.action_items_summary + (f": {'; '.join(items)}." if items else ".")
