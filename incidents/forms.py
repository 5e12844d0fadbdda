"""Web forms. Each validates one page's input before one service call; every text
field carries the model's max length (seed 003: an oversized entity once
OOM-killed the servers)."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model

from common.exceptions import ApplicationError
from common.validators import multi_line, single_line
from incidents import lifecycle, selectors, services
from incidents.lifecycle import IllegalStageMove, MoveKind, Stage
from incidents.models import (
    SHORT_TEXT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    DetectionSource,
    FailurePattern,
    Incident,
    RoleAssignment,
    Service,
)

User = get_user_model()

MAX_DECISION_OPTIONS = 20
SEARCH_MAX = 200


class SeverityChoiceField(forms.ModelChoiceField):
    """Each option spells out the severity's definition, so choosing one is informed."""

    def __init__(self, **kwargs):
        super().__init__(queryset=selectors.severities(), **kwargs)

    def label_from_instance(self, severity):
        return f"{severity.code} — {severity.name}: {severity.definition}"


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        full_name = user.get_full_name()
        return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


STARTED_AT_LABEL = f"Impact started ({settings.TIME_ZONE})"


def _datetime_input() -> forms.DateTimeInput:
    # Seconds are kept so that re-saving an edit form leaves the stored time unchanged.
    return forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
    )


def add_application_error(form: forms.BaseForm, error: ApplicationError) -> None:
    """Show a domain error next to the field it names, or above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


class IncidentFilterForm(forms.Form):
    """The list's filters, named as the API names them."""

    STATUS_CHOICES = [("all", "All"), ("open", "Open"), ("closed", "Closed")]
    OPEN_BY_STATUS = {"all": None, "open": True, "closed": False}

    q = forms.CharField(label="Search", max_length=SEARCH_MAX, required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    severity = forms.ModelChoiceField(
        queryset=selectors.severities(), to_field_name="code", required=False, empty_label="Any"
    )
    stage = forms.ChoiceField(choices=[("", "Any"), *Stage.choices], required=False)
    service = forms.ModelChoiceField(
        queryset=Service.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Any",
    )

    def filters(self) -> dict:
        """The selector's filters from whichever fields are valid; invalid ones are ignored."""
        data = getattr(self, "cleaned_data", {})
        severity = data.get("severity")
        service = data.get("service")
        return {
            "search": data.get("q", ""),
            "open": self.OPEN_BY_STATUS.get(data.get("status") or "all"),
            "severity": severity.code if severity else None,
            "stage": data.get("stage") or None,
            "service": service.slug if service else None,
        }


class IncidentDeclareForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX, validators=[single_line])
    summary = forms.CharField(
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        validators=[multi_line],
    )
    severity = SeverityChoiceField()
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to pick several.",
    )
    started_at = forms.DateTimeField(
        label=STARTED_AT_LABEL,
        required=False,
        widget=_datetime_input(),
        help_text="Leave empty if impact began when it was detected (now).",
    )
    detection_source = forms.ChoiceField(
        choices=DetectionSource.choices, initial=DetectionSource.INTERNAL
    )
    private = forms.BooleanField(
        required=False, help_text="Visible only to participants and admins (e.g. security)."
    )


class IncidentEditForm(forms.ModelForm):
    """Every field ``services.incident_update`` accepts; the stage moves elsewhere."""

    severity = SeverityChoiceField()
    failure_patterns = forms.MultipleChoiceField(
        choices=FailurePattern.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Incident
        fields = services.EDITABLE_FIELDS
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 5}),
            "started_at": _datetime_input(),
            "services": forms.SelectMultiple(attrs={"size": 6}),
        }
        labels = {"started_at": STARTED_AT_LABEL}

    def changes(self) -> dict:
        return {field: self.cleaned_data[field] for field in self.changed_data}


class NoteForm(forms.Form):
    prefix = "note"

    text = forms.CharField(
        label="Note",
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )


class DecisionForm(forms.Form):
    prefix = "decision"

    options = forms.CharField(
        label="Options considered",
        # One option per line: room for the most options at their longest.
        max_length=MAX_DECISION_OPTIONS * (SHORT_TEXT_MAX + 2),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, e.g. roll back, fix forward, fail over, wait.",
        validators=[multi_line],  # line breaks separate the options; other controls are refused
    )
    chosen = forms.CharField(
        label="Chosen option",
        max_length=SHORT_TEXT_MAX,
        help_text="Exactly as one of the lines above.",
        validators=[single_line],
    )
    rationale = forms.CharField(
        label="Why",
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )
    information = forms.CharField(
        label="What was known",
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )

    def clean_options(self) -> list[str]:
        options = [line.strip() for line in self.cleaned_data["options"].splitlines()]
        options = [option for option in options if option]
        if len(options) > MAX_DECISION_OPTIONS:
            raise forms.ValidationError(f"List at most {MAX_DECISION_OPTIONS} options.")
        too_long = [option for option in options if len(option) > SHORT_TEXT_MAX]
        if too_long:
            raise forms.ValidationError(
                f"Each option must have at most {SHORT_TEXT_MAX} characters."
            )
        return options


class StageMoveForm(forms.Form):
    """Accepts any stage; the lifecycle decides whether the move is legal (and says why).

    The select starts on the next stage, never on a reopen, and a move that skips
    stages needs ``confirm_skip``: a skipped stage keeps no time, so the metric that
    ends there stays empty for good.
    """

    prefix = "move"

    stage = forms.ChoiceField(label="Move to", choices=Stage.choices)
    confirm_skip = forms.BooleanField(
        label="Confirm skipping stages",
        required=False,
        help_text="Needed when the move skips a stage: a skipped stage keeps no time.",
    )
    note = forms.CharField(
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )

    def __init__(self, *args, current: str, allowed_targets: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        # Offer only the legal moves; a stale page posting another still gets the reason.
        self.fields["stage"].widget.choices = [
            (stage, self._choice_label(stage)) for stage in allowed_targets
        ]
        forward = [
            stage
            for stage in allowed_targets
            if (plan := self._plan(stage)) and plan.kind != MoveKind.REOPEN
        ]
        if forward:
            self.fields["stage"].initial = forward[0]

    def _plan(self, target: str) -> lifecycle.Move | None:
        try:
            return lifecycle.plan_move(current=self.current, target=target, closed=False)
        except IllegalStageMove:
            return None

    def _choice_label(self, target: str) -> str:
        plan = self._plan(target)
        label = Stage(target).label
        if plan and plan.kind == MoveKind.REOPEN:
            return f"{label} (reopen: the fix regressed)"
        if plan and plan.kind == MoveKind.SKIP:
            return f"{label} (skips {', '.join(Stage(stage).label for stage in plan.skipped)})"
        return label

    def clean(self):
        cleaned = super().clean()
        plan = self._plan(cleaned.get("stage", ""))
        if plan and plan.kind == MoveKind.SKIP and not cleaned.get("confirm_skip"):
            skipped = " and ".join(Stage(stage).label for stage in plan.skipped)
            self.add_error(
                "confirm_skip",
                f"Moving to {Stage(plan.target).label} skips {skipped}: "
                f"{'its time stays' if len(plan.skipped) == 1 else 'their times stay'} empty. "
                "Tick “Confirm skipping stages” to move anyway.",
            )
        return cleaned


class CloseForm(forms.Form):
    prefix = "close"

    note = forms.CharField(
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )


class RoleAssignForm(forms.Form):
    prefix = "role"

    role = forms.ChoiceField(choices=RoleAssignment.Role.choices)
    user = UserChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"))


class ResponderRemoveForm(forms.Form):
    prefix = "remove"

    user = forms.ModelChoiceField(queryset=User.objects.all())
