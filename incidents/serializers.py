"""API input/output shapes. Every text input carries the model's max length."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api_fields import UsernameField
from common.validators import multi_line, single_line
from incidents import lifecycle, selectors
from incidents.change_serializers import ChangeOutput
from incidents.lifecycle import DURATION_DEFINITIONS, Outcome, Stage
from incidents.models import (
    SHORT_TEXT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    Category,
    Change,
    Decision,
    DetectionSource,
    FailurePattern,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    TimelineEvent,
)
from incidents.services.base import IMPACT_FIELDS

User = get_user_model()
MAX_SERVICES = 50
MAX_OPTIONS = 20


def _seconds(delta) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def _username(user) -> str | None:
    return user.get_username() if user else None


class LookupSlugField(serializers.SlugRelatedField):
    """A slug lookup that refuses what no slug holds before it reaches the database:
    PostgreSQL raises (a 500) on a NUL byte in a query parameter."""

    def to_internal_value(self, data):
        if isinstance(data, str) and ("\x00" in data or len(data) > 255):
            self.fail("invalid")
        return super().to_internal_value(data)


class SeverityField(LookupSlugField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Severity.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().upper()
        return super().to_internal_value(data)


def _slug_like(item) -> bool:
    """What a slug lookup may be given: a string (no NUL byte: PostgreSQL refuses it)
    of at most 255 characters, or a number."""
    if isinstance(item, str):
        return "\x00" not in item and len(item) <= 255
    return isinstance(item, int) and not isinstance(item, bool)


class ServicesField(serializers.ListField):
    """Service slugs, looked up in one query rather than one per slug; a slug no
    service has is refused at its position, as the child field would refuse it."""

    child = LookupSlugField(slug_field="slug", queryset=Service.objects.all())

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_SERVICES, **kwargs)

    def run_child_validation(self, data):
        messages = self.child.error_messages
        errors: dict[int, list[str]] = {}
        slugs = []
        for index, item in enumerate(data):
            if not _slug_like(item):
                errors[index] = [messages["invalid"]]
            slugs.append(str(item))
        found = {
            service.slug: service
            for service in Service.objects.filter(slug__in=[s for s in slugs if "\x00" not in s])
        }
        for index, slug in enumerate(slugs):
            if index not in errors and slug not in found:
                errors[index] = [messages["does_not_exist"].format(slug_name="slug", value=slug)]
        if errors:
            raise serializers.ValidationError(errors)
        return [found[slug] for slug in slugs]


class UserField(LookupSlugField):
    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs
        )


class IncidentDeclareInput(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX, validators=[single_line])
    summary = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default="", validators=[multi_line]
    )
    severity = SeverityField()
    services = ServicesField(required=False, default=list)
    started_at = serializers.DateTimeField(required=False)
    detected_at = serializers.DateTimeField(required=False)
    detection_source = serializers.ChoiceField(
        choices=DetectionSource.choices, default=DetectionSource.INTERNAL
    )
    private = serializers.BooleanField(default=False)
    commander = UserField(required=False)


class IncidentUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX, required=False, validators=[single_line])
    summary = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, validators=[multi_line]
    )
    severity = SeverityField(required=False)
    private = serializers.BooleanField(required=False)
    started_at = serializers.DateTimeField(required=False)
    detection_source = serializers.ChoiceField(choices=DetectionSource.choices, required=False)
    detected_before_customers = serializers.BooleanField(required=False, allow_null=True)
    affected_users_count = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2_000_000_000
    )
    affected_users_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False, allow_null=True
    )
    services = ServicesField(required=False)
    affected_features = serializers.CharField(
        max_length=SHORT_TEXT_MAX, required=False, allow_blank=True, validators=[single_line]
    )
    estimated_loss = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    compensation = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    sla_minutes_breached = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10_000_000
    )
    category = serializers.ChoiceField(choices=Category.choices, required=False, allow_blank=True)
    failure_patterns = serializers.ListField(
        child=serializers.ChoiceField(choices=FailurePattern.choices),
        required=False,
        max_length=len(FailurePattern.values),
    )
    preceding_change = serializers.PrimaryKeyRelatedField(
        queryset=Change.objects.all(), required=False, allow_null=True
    )


class StageMoveInput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    note = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default="", validators=[multi_line]
    )


class CloseInput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=Outcome.choices,
        default=Outcome.RESOLVED,
        help_text="resolved (default): from retrospect when the severity's rules hold, else "
        "409 with `blockers`. false_alarm, duplicate (with `duplicate_of`) and declined: from "
        "any stage, with a reason in `note`; they are left out of the lifecycle metrics, and "
        "an unresolved public incident is resolved (with `public_message` or a default text).",
    )
    note = serializers.CharField(
        max_length=TEXT_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[multi_line],
        help_text="Closing note; the reason, required for every outcome but resolved.",
    )
    duplicate_of = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text="outcome duplicate: the number of the incident that tracks the work. "
        "Its timeline gets an event pointing back.",
    )
    public_message = serializers.CharField(
        max_length=SHORT_TEXT_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[multi_line],
        help_text="What the status page says when it resolves the incident's public incident "
        "(outcomes other than resolved); empty: a default wording for the outcome.",
    )


class StageTimeCorrectInput(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=Stage.choices, help_text="A reached or skipped stage (not a later one)."
    )
    at = serializers.DateTimeField(
        help_text="When the stage was really reached; stage times stay in stage order."
    )
    reason = serializers.CharField(max_length=SHORT_TEXT_MAX, validators=[multi_line])


class NoteEditInput(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_MAX, validators=[multi_line])


class NoteStrikeInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=SHORT_TEXT_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[single_line],
    )


class NoteInput(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_MAX, validators=[multi_line])


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=RoleAssignment.Role.choices)
    user = UserField()


class DecisionInput(serializers.Serializer):
    options = serializers.ListField(
        child=serializers.CharField(max_length=SHORT_TEXT_MAX, validators=[single_line]),
        min_length=1,
        max_length=MAX_OPTIONS,
    )
    chosen = serializers.CharField(
        max_length=SHORT_TEXT_MAX,
        required=False,
        allow_blank=True,
        default="",
        validators=[single_line],
        help_text="The chosen option's text (case and spacing do not matter). Send this or "
        "`chosen_index`.",
    )
    chosen_index = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=MAX_OPTIONS - 1,
        help_text="The chosen option's position in `options`, counted from 0.",
    )
    rationale = serializers.CharField(max_length=TEXT_MAX, validators=[multi_line])
    information = serializers.CharField(
        max_length=TEXT_MAX, required=False, allow_blank=True, default="", validators=[multi_line]
    )
    supersedes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The id of an earlier decision of this incident that this one replaces; "
        "it is kept and shown as superseded.",
    )

    def validate(self, data):
        if not data.get("chosen") and data.get("chosen_index") is None:
            raise serializers.ValidationError({"chosen": "Send chosen or chosen_index."})
        return data


class IncidentListFilter(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    severity = serializers.CharField(max_length=8, required=False)
    service = serializers.SlugField(max_length=100, required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)


class StageOutput(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()
    reached_at = serializers.DateTimeField(allow_null=True)
    reached_by = serializers.CharField(allow_null=True)


class DurationsOutput(serializers.Serializer):
    time_to_detect_seconds = serializers.IntegerField(
        allow_null=True, help_text=DURATION_DEFINITIONS["time_to_detect"]
    )
    time_to_propagate_seconds = serializers.IntegerField(
        allow_null=True, help_text=DURATION_DEFINITIONS["time_to_propagate"]
    )
    time_to_decide_seconds = serializers.IntegerField(
        allow_null=True, help_text=DURATION_DEFINITIONS["time_to_decide"]
    )
    time_to_recover_seconds = serializers.IntegerField(
        allow_null=True, help_text=DURATION_DEFINITIONS["time_to_recover"]
    )
    not_measured = serializers.CharField(
        help_text="Why the figures are null although the stages were reached (e.g. "
        "'closed as false alarm': not counted in the lifecycle metrics); empty otherwise."
    )


_STAGE_TIME = StageOutput().fields["reached_at"]
_STAGE_FIELDS = tuple((stage, lifecycle.STAGE_FIELDS[stage]) for stage in Stage)


class IncidentOutput(serializers.ModelSerializer):
    severity = serializers.CharField(source="severity.code")
    services = serializers.SerializerMethodField()
    commander = UsernameField()
    communications_lead = UsernameField()
    scribe = UsernameField()
    responders = serializers.SerializerMethodField()
    is_open = serializers.BooleanField()
    stages = serializers.SerializerMethodField()
    durations = serializers.SerializerMethodField()
    allowed_stages = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField()
    trigger_change = ChangeOutput(
        source="preceding_change",
        read_only=True,
        allow_null=True,
        help_text="The change a responder marked as what set the incident off "
        "(its id is `preceding_change`).",
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "summary",
            "severity",
            "stage",
            "is_open",
            "private",
            "started_at",
            "detected_at",
            "propagated_at",
            "judged_at",
            "recovered_at",
            "analyzed_at",
            "shared_at",
            "retrospected_at",
            "closed_at",
            "outcome",
            "outcome_reason",
            "duplicate_of",
            "duplicates",
            "reopened_count",
            "stages",
            "durations",
            "allowed_stages",
            *IMPACT_FIELDS,
            "commander",
            "communications_lead",
            "scribe",
            "responders",
            "preceding_change",
            "trigger_change",
            "created_at",
            "updated_at",
        ]

    def get_services(self, incident) -> list[str]:
        return [service.slug for service in incident.services.all()]

    def get_responders(self, incident) -> list[str]:
        return sorted(user.get_username() for user in incident.responders.all())

    def get_stages(self, incident) -> list[dict]:
        # Plain dicts, one shared field formatting the times: a StageOutput serializer
        # per row (eight stages each) cost more than the rest of an API list row.
        return [
            {
                "stage": stage.value,
                "label": str(stage.label),
                "reached_at": _STAGE_TIME.to_representation(getattr(incident, at_field)),
                "reached_by": _username(getattr(incident, by_field)),
            }
            for stage, (at_field, by_field) in _STAGE_FIELDS
        ]

    @extend_schema_field(DurationsOutput)
    def get_durations(self, incident) -> dict:
        d = selectors.incident_durations(incident, now=timezone.now())
        # What DurationsOutput writes (the schema), without a serializer per row.
        return {
            "time_to_detect_seconds": _seconds(d.time_to_detect),
            "time_to_propagate_seconds": _seconds(d.time_to_propagate),
            "time_to_decide_seconds": _seconds(d.time_to_decide),
            "time_to_recover_seconds": _seconds(d.time_to_recover),
            "not_measured": str(d.not_measured),
        }

    def get_duplicates(self, incident) -> list[int]:
        """Incidents closed as duplicates of this one (those the reader may see)."""
        return sorted(duplicate.pk for duplicate in incident.duplicates.all())

    def get_allowed_stages(self, incident) -> list[str]:
        return lifecycle.allowed_targets(current=incident.stage, closed=not incident.is_open)


class TimelineEventOutput(serializers.ModelSerializer):
    actor = UsernameField()
    edited_by = UsernameField()
    struck_by = UsernameField()

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "kind",
            "occurred_at",
            "actor",
            "source",
            "text",
            "data",
            "edited_at",
            "edited_by",
            "struck_at",
            "struck_by",
            "struck_reason",
        ]


class DecisionOutput(serializers.ModelSerializer):
    decided_by = UsernameField()
    chosen_index = serializers.IntegerField(allow_null=True, read_only=True)
    superseded_by = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "options",
            "chosen",
            "chosen_index",
            "rationale",
            "information",
            "decided_by",
            "decided_at",
            "supersedes",
            "superseded_by",
        ]

    def get_superseded_by(self, decision) -> int | None:
        """The later decision that replaced this one, if any."""
        try:
            return decision.superseded_by.pk
        except Decision.superseded_by.RelatedObjectDoesNotExist:
            return None


class FieldChangeOutput(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()


class HistoryEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    user = serializers.CharField(allow_null=True)
    object_type = serializers.CharField()
    object_id = serializers.IntegerField()
    action = serializers.CharField()
    reason = serializers.CharField()
    changes = FieldChangeOutput(many=True)
