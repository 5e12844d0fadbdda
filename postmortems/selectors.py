"""Reads: querysets with their joins set up; postmortems follow their incident's visibility."""

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.selectors import incidents_visible_to
from postmortems.models import (
    ActionItem,
    Postmortem,
    PostmortemTemplate,
    RemediationOption,
    Review,
    Section,
    TemplateSection,
)

SEARCH_MAX = 200


def postmortems_visible_to(user) -> QuerySet[Postmortem]:
    return Postmortem.objects.filter(incident__in=incidents_visible_to(user))


# Newest first, a keyset (common.keyset) over the created_at index; a search is
# ranked instead and pages by number.
POSTMORTEM_LIST_ORDER = ("-created_at", "-pk")


def postmortem_list(*, user, status: str = "", search: str = "") -> QuerySet[Postmortem]:
    """Postmortems ``user`` may see, newest first, or ranked by ``search``; with the
    joins the list shows (``postmortem_list_rows`` loads one keyset page of them)."""
    queryset = postmortems_visible_to(user).select_related("incident", "incident__severity")
    if status:
        queryset = queryset.filter(status=status)
    if search := (search or "").strip()[:SEARCH_MAX]:
        return postmortem_search(queryset=queryset, query=search)
    return queryset.order_by(*POSTMORTEM_LIST_ORDER)


# What the list page and the API's list rows show: not the search document, the
# public summary or the incident's ~50 columns, for each of a page's rows.
LIST_ROW_FIELDS = (
    "incident",
    "title",
    "status",
    "version",
    "created_at",
    "published_at",
    "incident__title",
    "incident__severity__code",
    "incident__severity__rank",
)


def postmortem_list_rows(pks) -> QuerySet[Postmortem]:
    """One page of the list: the postmortems, their incident and its severity."""
    return (
        Postmortem.objects.filter(pk__in=pks)
        .select_related("incident", "incident__severity")
        .only(*LIST_ROW_FIELDS)
    )


def reviews_waiting_for(*, user) -> QuerySet[Postmortem]:
    """Postmortems in review that name ``user`` as a reviewer and have no approval of
    theirs still standing this round (never approved, or approved and withdrawn by a
    later change). Oldest request first."""
    standing = Review.objects.filter(
        postmortem=OuterRef("pk"),
        reviewer=user,
        verdict=Review.Verdict.APPROVE,
        withdrawn_at__isnull=True,
        created_at__gte=OuterRef("submitted_at"),
    )
    return (
        postmortems_visible_to(user)
        .filter(status=Postmortem.Status.IN_REVIEW, reviewers=user)
        .exclude(Exists(standing))
        .select_related("incident", "incident__severity", "last_saved_by")
        .order_by("submitted_at", "pk")
    )


def postmortem_search(*, queryset: QuerySet[Postmortem], query: str) -> QuerySet[Postmortem]:
    """PostgreSQL full-text search (ranked) over the title and every section's text;
    on SQLite, a case-insensitive substring match of each word."""
    words = [word for word in query.split() if word][:10]
    if not words:
        return queryset
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        search_query = SearchQuery(query, search_type="websearch", config="english")
        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "search_document", weight="B", config="english"
        )
        return (
            queryset.annotate(search=vector, rank=SearchRank(vector, search_query))
            .filter(search=search_query)
            .order_by("-rank", "-pk")
        )
    condition = Q()
    for word in words:
        condition &= Q(title__icontains=word) | Q(search_document__icontains=word)
    return queryset.filter(condition).order_by("-created_at", "-pk")


def postmortem_detail(*, user, pk: int) -> Postmortem:
    """One postmortem with everything its pages show, in a fixed number of queries."""
    return (
        postmortems_visible_to(user)
        .select_related(
            "incident",
            "incident__severity",
            "incident__commander",
            "template",
            "created_by",
            "last_saved_by",
            "published_by",
        )
        .prefetch_related(
            Prefetch("sections", queryset=Section.objects.order_by("position")),
            Prefetch(
                "remediation_options", queryset=RemediationOption.objects.order_by("position", "id")
            ),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner", "team").order_by(
                    "position", "id"
                ),
            ),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer", "withdrawn_by")),
            "reviewers",
            "incident__services",
        )
        .get(pk=pk)
    )


def postmortem_for_incident(*, incident_id: int) -> Postmortem | None:
    return Postmortem.objects.filter(incident_id=incident_id).only("pk", "status").first()


def template_chosen(template_id: str | None) -> PostmortemTemplate | None:
    """The current template a form picked by id, or None (none picked, or not current)."""
    if not template_id:
        return None
    return PostmortemTemplate.objects.filter(pk=template_id, is_current=True).first()


def templates_current() -> QuerySet[PostmortemTemplate]:
    return (
        PostmortemTemplate.objects.filter(is_current=True)
        .select_related("team")
        .prefetch_related(
            Prefetch("sections", queryset=TemplateSection.objects.order_by("position"))
        )
        .order_by("name")
    )


def action_items_list(*, user, filters: dict | None = None) -> QuerySet[ActionItem]:
    """Action items across the incidents ``user`` may see; filters as the API names them."""
    filters = filters or {}
    queryset = ActionItem.objects.filter(
        postmortem__incident__in=incidents_visible_to(user)
    ).select_related("owner", "team", "postmortem", "postmortem__incident", "evidence")
    if owner := filters.get("owner"):
        queryset = queryset.filter(owner__username=owner)
    if team := filters.get("team"):
        queryset = queryset.filter(team__slug=team)
    if status := filters.get("status"):
        queryset = queryset.filter(status=status)
    if filters.get("overdue"):
        queryset = queryset.filter(due_date__lt=timezone.localdate()).exclude(
            status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO]
        )
    return queryset.order_by("due_date", "priority", "pk")


@dataclass(frozen=True)
class TeamCompletion:
    team: str
    total: int
    done: int
    overdue: int

    @property
    def rate(self) -> float:
        return self.done / self.total if self.total else 0.0


def completion_by_team(*, user, today: date | None = None) -> list[TeamCompletion]:
    """Per team: items, items done, items overdue (won't-do items are not counted)."""
    today = today or timezone.localdate()
    rows = (
        ActionItem.objects.filter(postmortem__incident__in=incidents_visible_to(user))
        .exclude(status=ActionItem.Status.WONT_DO)
        .values("team__name")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=ActionItem.Status.DONE)),
            overdue=Count("id", filter=Q(due_date__lt=today) & ~Q(status=ActionItem.Status.DONE)),
        )
        .order_by("team__name")
    )
    return [
        TeamCompletion(
            team=row["team__name"] or "No team",
            total=row["total"],
            done=row["done"],
            overdue=row["overdue"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    user: str | None
    what: str
    reason: str


def postmortem_history(*, postmortem: Postmortem, limit: int = 300) -> list[HistoryRow]:
    """Who changed what and when: the postmortem, its sections, options and items."""
    rows: list[HistoryRow] = []
    sources = [
        (postmortem.history.all(), lambda r: f"postmortem ({r.get_status_display().lower()})"),
        (Section.history.filter(postmortem_id=postmortem.pk), lambda r: f"section “{r.title}”"),
        (
            RemediationOption.history.filter(postmortem_id=postmortem.pk),
            lambda r: f"remediation “{r.title}”",
        ),
        (
            ActionItem.history.filter(postmortem_id=postmortem.pk),
            lambda r: f"action item “{r.title}”",
        ),
    ]
    for queryset, describe in sources:
        for record in queryset.select_related("history_user").order_by("-history_date")[:limit]:
            rows.append(
                HistoryRow(
                    at=record.history_date,
                    user=record.history_user.get_username() if record.history_user else None,
                    what=describe(record),
                    reason=record.history_change_reason
                    or {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                )
            )
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows[:limit]


def overdue_action_items(*, incidents: QuerySet, today) -> QuerySet[ActionItem]:
    """Open action items of ``incidents`` past their due date, the oldest due first."""
    return (
        ActionItem.objects.filter(postmortem__incident__in=incidents, due_date__lt=today)
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .select_related("owner", "team", "postmortem__incident")
        .order_by("due_date", "pk")
    )
