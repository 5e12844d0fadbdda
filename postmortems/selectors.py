"""Reads: querysets with their joins set up; postmortems follow their incident's visibility."""

from dataclasses import dataclass, replace
from datetime import date, datetime

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from common import keyset
from incidents.models import Team
from incidents.visibility import private_incidents_hidden_from
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
    """The postmortems of the incidents ``user`` may see: every one but those of the
    private incidents hidden from them (``private_incidents_hidden_from``), so a list
    walks its own index without joining each row to the incidents."""
    if user is None or not user.is_authenticated:
        return Postmortem.objects.none()
    return Postmortem.objects.exclude(incident__in=private_incidents_hidden_from(user))


def _hidden_postmortems(user) -> QuerySet[Postmortem]:
    """The postmortems of the incidents hidden from an authenticated ``user``."""
    return Postmortem.objects.filter(incident__in=private_incidents_hidden_from(user)).values("pk")


# Newest first, a keyset (common.keyset) over the created_at index; a search is
# ranked instead and pages by number.
POSTMORTEM_LIST_ORDER = ("-created_at", "-pk")


def postmortem_list(*, user, status: str = "", search: str = "") -> QuerySet[Postmortem]:
    """Postmortems ``user`` may see, newest first, or ranked by ``search``, without
    joins: ``postmortem_list_page`` reads one page of them."""
    queryset = postmortems_visible_to(user)
    if status:
        queryset = queryset.filter(status=status)
    if search := (search or "").strip()[:SEARCH_MAX]:
        return postmortem_search(queryset=queryset, query=search)
    return queryset.order_by(*POSTMORTEM_LIST_ORDER)


# What the list page and the API's list rows show, read as values: not the search
# document, the public summary or the incident's ~50 columns, and no model instances.
LIST_ROW_FIELDS = (
    "pk",
    "incident_id",
    "incident__title",
    "incident__severity__code",
    "incident__severity__rank",
    "title",
    "status",
    "version",
    "created_at",
    "published_at",
)
_STATUS_LABELS = dict(Postmortem.Status.choices)


@dataclass(frozen=True, slots=True)
class PostmortemListRow:
    """One postmortem of the list (page and API): ``LIST_ROW_FIELDS``, in order."""

    pk: int
    incident_id: int
    incident_title: str
    severity_code: str
    severity_rank: int
    title: str
    status: str
    version: int
    created_at: datetime
    published_at: datetime | None

    @property
    def status_label(self) -> str:
        return str(_STATUS_LABELS.get(self.status, self.status))


def postmortem_list_rows(pks) -> list[PostmortemListRow]:
    """One keyset page of the list: the postmortems, their incident and its severity."""
    rows = Postmortem.objects.filter(pk__in=pks).values_list(*LIST_ROW_FIELDS)
    return [PostmortemListRow(*values) for values in rows]


def postmortem_list_page(
    queryset: QuerySet[Postmortem],
    *,
    ranked: bool,
    size: int,
    cursor: str | None,
    page: str | None,
    clamp_pages: bool = False,
) -> keyset.Page:
    """One page of ``postmortem_list``'s rows (``PostmortemListRow``): newest first by
    cursor (``page`` for old links), or a ranked search by page number."""
    if ranked:
        found = keyset.offset_paginate(
            queryset.values_list(*LIST_ROW_FIELDS), size=size, page=page, clamp_pages=clamp_pages
        )
        return replace(found, rows=[PostmortemListRow(*values) for values in found.rows])
    return keyset.paginate(
        queryset,
        name="postmortems",
        keys=POSTMORTEM_LIST_ORDER,
        size=size,
        load=postmortem_list_rows,
        cursor=cursor,
        page=page,
        clamp_pages=clamp_pages,
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


def _action_items_visible_to(user) -> QuerySet[ActionItem]:
    if user is None or not user.is_authenticated:
        return ActionItem.objects.none()
    return ActionItem.objects.exclude(postmortem__in=_hidden_postmortems(user))


def action_items_list(*, user, filters: dict | None = None) -> QuerySet[ActionItem]:
    """Action items across the incidents ``user`` may see; filters as the API names
    them. No joins: ``action_item_list_page`` reads a page's rows as values, the CSV
    and an item's page add the joins they show."""
    filters = filters or {}
    queryset = _action_items_visible_to(user)
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


def action_items_shown(*, user) -> QuerySet[ActionItem]:
    """The action items ``user`` may see, with what one item's page and API answer show."""
    return action_items_list(user=user).select_related(
        "owner", "team", "postmortem__incident", "evidence"
    )


# What the action items page and the API's list rows show, read as values (the item,
# its owner's and team's names, its incident's number, its evidence): no model
# instances, no join to the incident.
ACTION_ITEM_ROW_FIELDS = (
    "pk",
    "title",
    "description",
    "term",
    "kind",
    "owner__username",
    "team__name",
    "team__slug",
    "due_date",
    "priority",
    "status",
    "tracker_url",
    "completed_at",
    "postmortem_id",
    "postmortem__incident_id",
    "evidence__id",
    "evidence__metric",
    "evidence__query",
    "evidence__threshold",
    "evidence__stay",
    "evidence__days",
    "evidence__series",
    "evidence__result",
    "evidence__result_detail",
    "evidence__checked_at",
    "evidence__verified_at",
)
_FINISHED = frozenset({ActionItem.Status.DONE, ActionItem.Status.WONT_DO})
_VERIFIABLE = frozenset({ActionItem.Kind.PREVENT, ActionItem.Kind.DETECT})


@dataclass(frozen=True, slots=True)
class ItemEvidence:
    """An item's evidence as the lists show it (``ActionItemEvidence``'s fields)."""

    metric: str
    query: str
    threshold: float
    stay: str
    days: int
    series: list
    result: str
    result_detail: str
    checked_at: datetime | None
    verified_at: datetime | None


@dataclass(frozen=True, slots=True)
class ActionItemListRow:
    """One action item of the lists (page and API)."""

    pk: int
    title: str
    description: str
    term: str
    kind: str
    owner_username: str | None
    team_name: str | None
    team_slug: str | None
    due_date: date | None
    priority: str
    status: str
    tracker_url: str
    completed_at: datetime | None
    postmortem_id: int
    incident_id: int
    evidence: ItemEvidence | None

    @property
    def is_finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def verifiable_by_metric(self) -> bool:
        return self.kind in _VERIFIABLE

    def overdue(self, today: date) -> bool:
        return bool(self.due_date and not self.is_finished and self.due_date < today)


def _item_row(values: tuple) -> ActionItemListRow:
    evidence_id, *link = values[15:]
    return ActionItemListRow(
        *values[:15], evidence=ItemEvidence(*link) if evidence_id is not None else None
    )


def action_item_list_page(
    queryset: QuerySet[ActionItem],
    *,
    size: int,
    page: str | None,
    clamp_pages: bool = False,
    count: int | None = None,
) -> keyset.Page:
    """One numbered page of ``action_items_list`` (due date first, nullable, so no
    keyset) with the capped count (``count`` when the caller has it: one query, else
    two); its rows are ``ActionItemListRow``."""
    found = keyset.offset_paginate(
        queryset.values_list(*ACTION_ITEM_ROW_FIELDS),
        size=size,
        page=page,
        clamp_pages=clamp_pages,
        counted=queryset,
        count=count,
    )
    return replace(found, rows=[_item_row(values) for values in found.rows])


@dataclass(frozen=True)
class TeamCompletion:
    team: str
    total: int
    done: int
    overdue: int

    @property
    def rate(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(frozen=True)
class Completion:
    """Completion by team, and how many action items the reader may see in all (won't-do
    ones included: the unfiltered list's count, read by the same scan)."""

    teams: list[TeamCompletion]
    items: int

    def __iter__(self):
        return iter(self.teams)

    def __len__(self) -> int:
        return len(self.teams)


def completion_by_team(*, user, today: date | None = None) -> Completion:
    """Per team: items, items done, items overdue (won't-do items are not counted).
    One scan of the items the reader may see, grouped by team id (the few teams' names
    are read apart); teams in name order, items without a team last."""
    today = today or timezone.localdate()
    wont_do = Q(status=ActionItem.Status.WONT_DO)
    rows = list(
        _action_items_visible_to(user)
        .values("team_id")
        .annotate(
            total=Count("id", filter=~wont_do),
            wont_do=Count("id", filter=wont_do),
            done=Count("id", filter=Q(status=ActionItem.Status.DONE)),
            overdue=Count(
                "id",
                filter=Q(due_date__lt=today)
                & ~Q(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO]),
            ),
        )
        .order_by()
    )
    named = dict(
        Team.objects.filter(pk__in=[row["team_id"] for row in rows if row["team_id"]]).values_list(
            "pk", "name"
        )
    )
    teams = [
        TeamCompletion(
            team=named[row["team_id"]] if row["team_id"] else "No team",
            total=row["total"],
            done=row["done"],
            overdue=row["overdue"],
        )
        for row in sorted(rows, key=lambda row: (row["team_id"] is None, named.get(row["team_id"])))
        if row["total"]
    ]
    return Completion(teams, items=sum(row["total"] + row["wont_do"] for row in rows))


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
