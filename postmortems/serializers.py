"""API shapes. Section content is validated by ``postmortems.sections`` (per kind),
so here it is an opaque JSON object; every other text input carries its max length."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from common.api_fields import UsernameField, api_time
from common.validators import multi_line, single_line
from postmortems.documents import section_content
from postmortems.evidence import link_of, tracker_of
from postmortems.models import (
    COMMENT_MAX,
    EVIDENCE_DAYS_MAX,
    NAME_MAX,
    PUBLIC_SUMMARY_MAX,
    QUERY_MAX,
    ActionItem,
    ActionItemEvidence,
    Postmortem,
    PostmortemTemplate,
)
from postmortems.review import MAX_REVIEWERS
from postmortems.section_rows import action_item_row

User = get_user_model()
MAX_SECTIONS_PER_PATCH = 50


class PostmortemCreateInput(serializers.Serializer):
    incident = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    template = serializers.PrimaryKeyRelatedField(
        queryset=PostmortemTemplate.objects.all(), required=False, allow_null=True
    )


class PostmortemUpdateInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you edited.")
    title = serializers.CharField(max_length=NAME_MAX, required=False, validators=[single_line])
    sections = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text='Section content by key, e.g. {"summary": {"text": "..."}}.',
    )

    def validate_sections(self, value: dict) -> dict:
        if len(value) > MAX_SECTIONS_PER_PATCH:
            raise serializers.ValidationError(f"At most {MAX_SECTIONS_PER_PATCH} sections.")
        return value


class SubmitInput(serializers.Serializer):
    reviewers = serializers.ListField(
        child=serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True)
        ),
        required=False,
        max_length=MAX_REVIEWERS,
    )


class NoInput(serializers.Serializer):
    """A step that takes no fields (its body is still parsed: JSON or nothing)."""


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(
        max_length=COMMENT_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[multi_line],
    )


class PublishInput(serializers.Serializer):
    public_summary = serializers.CharField(
        max_length=PUBLIC_SUMMARY_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[multi_line],
    )


class SectionOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    help_text = serializers.CharField()
    position = serializers.IntegerField()
    content = serializers.JSONField()
    generated = serializers.JSONField()


class ReviewOutput(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer.username")
    verdict = serializers.CharField()
    comment = serializers.CharField()
    postmortem_version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    content_hash = serializers.CharField(
        help_text="SHA-256 of the content reviewed; any later change withdraws an approval."
    )
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    withdrawn_reason = serializers.CharField()


class PostmortemOutput(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id")
    incident_stage = serializers.CharField(source="incident.stage")
    template = serializers.SerializerMethodField()
    reviewers = serializers.SerializerMethodField()
    created_by = UsernameField()
    last_saved_by = UsernameField()
    published_by = UsernameField()
    sections = serializers.SerializerMethodField()
    reviews = ReviewOutput(many=True)

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "incident",
            "incident_stage",
            "template",
            "title",
            "status",
            "version",
            "reviewers",
            "public_summary",
            "created_by",
            "created_at",
            "last_saved_by",
            "last_saved_at",
            "submitted_at",
            "published_at",
            "published_by",
            "retro_completed_at",
            "sections",
            "reviews",
        ]

    def get_template(self, postmortem) -> dict:
        t = postmortem.template
        return {"id": t.pk, "name": t.name, "version": t.version, "family": t.family}

    def get_reviewers(self, postmortem) -> list[str]:
        return sorted(u.get_username() for u in postmortem.reviewers.all())

    def get_sections(self, postmortem) -> list[dict]:
        rows = [
            {
                "key": s.key,
                "title": s.title,
                "kind": s.kind,
                "help_text": s.help_text,
                "position": s.position,
                "content": section_content(s, postmortem),
                "generated": s.generated,
            }
            for s in postmortem.sections.all()
        ]
        return SectionOutput(rows, many=True).data


class PostmortemListOutput(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id")
    incident_title = serializers.CharField(source="incident.title")
    severity = serializers.CharField(source="incident.severity.code")

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "incident",
            "incident_title",
            "severity",
            "title",
            "status",
            "version",
            "created_at",
            "published_at",
        ]


def postmortem_list_json(rows: list) -> list[dict]:
    """``PostmortemListOutput(rows, many=True).data`` for ``PostmortemListRow`` rows,
    without a serializer walking each row's fields."""
    zone = timezone.get_current_timezone()
    return [
        {
            "id": row.pk,
            "incident": row.incident_id,
            "incident_title": row.incident_title,
            "severity": row.severity_code,
            "title": row.title,
            "status": row.status,
            "version": row.version,
            "created_at": api_time(row.created_at, zone),
            "published_at": api_time(row.published_at, zone),
        }
        for row in rows
    ]


class PostmortemListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Postmortem.Status.choices, required=False)
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ActionItemFilter(serializers.Serializer):
    owner = serializers.CharField(max_length=150, required=False)
    team = serializers.SlugField(max_length=100, required=False)
    status = serializers.ChoiceField(choices=ActionItem.Status.choices, required=False)
    overdue = serializers.BooleanField(required=False, default=False)


class ActionItemCreateInput(serializers.Serializer):
    postmortem = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    title = serializers.CharField(max_length=NAME_MAX, validators=[single_line])
    description = serializers.CharField(
        max_length=2_000, required=False, allow_blank=True, validators=[multi_line]
    )
    term = serializers.ChoiceField(choices=ActionItem.Term.choices, required=False)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices, required=False)
    owner = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=ActionItem.Priority.choices, required=False)
    status = serializers.ChoiceField(choices=ActionItem.Status.choices, required=False)
    tracker_url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class ActionItemUpdateInput(ActionItemCreateInput):
    postmortem = None
    title = serializers.CharField(max_length=NAME_MAX, required=False, validators=[single_line])


class TrackerOutput(serializers.Serializer):
    name = serializers.CharField(help_text="Jira, Linear or GitHub.")
    key = serializers.CharField(help_text="The issue's key: OPS-142, ENG-88, owner/repo#512.")


class EvidenceOutput(serializers.Serializer):
    metric = serializers.CharField()
    query = serializers.CharField(help_text="PromQL; empty when the series was pasted.")
    threshold = serializers.FloatField()
    stay = serializers.ChoiceField(choices=ActionItemEvidence.Stay.choices)
    days = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Points pasted (0 for a query).")
    result = serializers.ChoiceField(choices=ActionItemEvidence.Result.choices)
    result_detail = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)
    verified = serializers.BooleanField()
    verified_at = serializers.DateTimeField(allow_null=True)


class EvidenceInput(serializers.Serializer):
    metric = serializers.CharField(max_length=NAME_MAX, validators=[single_line])
    threshold = serializers.FloatField()
    stay = serializers.ChoiceField(
        choices=ActionItemEvidence.Stay.choices, default=ActionItemEvidence.Stay.BELOW
    )
    days = serializers.IntegerField(min_value=1, max_value=EVIDENCE_DAYS_MAX, default=7)
    query = serializers.CharField(
        max_length=QUERY_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[single_line],
        help_text="PromQL run against the configured metrics source over the last `days`.",
    )
    series = serializers.JSONField(
        required=False,
        default="",
        help_text="Instead of a query: [[time, value], ...] or CSV 'time,value' lines.",
    )


def evidence_row(item: ActionItem) -> dict | None:
    return _evidence_json(link_of(item))


class ActionItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    term = serializers.CharField()
    kind = serializers.CharField()
    owner = serializers.CharField(allow_null=True)
    team = serializers.CharField(allow_null=True)
    due_date = serializers.DateField(allow_null=True)
    priority = serializers.CharField()
    status = serializers.CharField()
    tracker_url = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    postmortem = serializers.IntegerField()
    incident = serializers.IntegerField()
    tracker = TrackerOutput(allow_null=True, help_text="The tracker the link names, if any.")
    evidence = EvidenceOutput(
        allow_null=True, help_text="The metric that verifies a prevent or detect item."
    )

    def to_representation(self, item):
        row = action_item_row(item)
        tracker = tracker_of(item.tracker_url)
        row.update(
            tracker={"name": tracker.name, "key": tracker.key} if tracker else None,
            evidence=evidence_row(item),
            description=item.description,
            team=item.team.slug if item.team else None,
            postmortem=item.postmortem_id,
            incident=item.postmortem.incident_id,
            completed_at=item.completed_at.isoformat() if item.completed_at else None,
            overdue=bool(item.due_date and not item.is_finished and item.due_date < _today()),
        )
        return row


def _today():
    return timezone.localdate()


def _evidence_json(link) -> dict | None:
    """An action item's evidence as the API writes it: its ``ActionItemEvidence`` or a
    list row's ``ItemEvidence`` (the same fields); None without one."""
    if link is None:
        return None
    return {
        "metric": link.metric,
        "query": link.query,
        "threshold": link.threshold,
        "stay": link.stay,
        "days": link.days,
        "points": len(link.series),
        "result": link.result,
        "result_detail": link.result_detail,
        "checked_at": link.checked_at.isoformat() if link.checked_at else None,
        "verified": link.result == ActionItemEvidence.Result.VERIFIED,
        "verified_at": link.verified_at.isoformat() if link.verified_at else None,
    }


def action_item_list_json(rows: list) -> list[dict]:
    """``ActionItemOutput(items, many=True).data`` for ``ActionItemListRow`` rows, in
    the order ``ActionItemOutput.to_representation`` writes the keys."""
    today = _today()
    found = []
    for item in rows:
        tracker = tracker_of(item.tracker_url)
        found.append(
            {
                "id": item.pk,
                "title": item.title,
                "term": item.term,
                "kind": item.kind,
                "owner": item.owner_username,
                "due_date": item.due_date.isoformat() if item.due_date else None,
                "priority": item.priority,
                "status": item.status,
                "tracker_url": item.tracker_url,
                "tracker": {"name": tracker.name, "key": tracker.key} if tracker else None,
                "evidence": _evidence_json(item.evidence),
                "description": item.description,
                "team": item.team_slug,
                "postmortem": item.postmortem_id,
                "incident": item.incident_id,
                "completed_at": item.completed_at.isoformat() if item.completed_at else None,
                "overdue": item.overdue(today),
            }
        )
    return found
