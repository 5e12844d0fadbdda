"""Web forms. Each validates one page's input before one service call; every text
field carries the model's max length (seed 003: an oversized entity once
OOM-killed the servers)."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.choices import BaseChoiceIterator

from common.timezones import in_zone_label, local_format
from common.validators import multi_line, single_line
from common.widgets import Select, TypeaheadSelect, TypeaheadSelectMultiple
from incidents import lifecycle, selectors, services
from incidents.lifecycle import OUTCOME_HELP, IllegalStageMove, MoveKind, Outcome, Stage
from incidents.models import (
    SHORT_TEXT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    Decision,
    DetectionSource,
    FailurePattern,
    Incident,
    RoleAssignment,
    Service,
)

User = get_user_model()

MAX_DECISION_OPTIONS = 20
# Rows a decision form offers; "Add an option" (JavaScript) adds more, up to the maximum.
DECISION_OPTION_ROWS = 4
SEARCH_MAX = 200
SERVICES_HELP = (
    "Type to find a service (without JavaScript: hold Ctrl, ⌘ on a Mac, to pick several)."
)


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


STARTED_AT_LABEL = "Impact started"


def _datetime_input() -> forms.DateTimeInput:
    # Seconds are kept so that re-saving an edit form leaves the stored time unchanged.
    return forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
    )


class _ChoicesReadOnce(BaseChoiceIterator):
    """A filter's options read from the database when first needed (to validate a
    value, or to render the select), then kept for the form: one plain query of two
    columns. As a ``ModelChoiceField`` each was a query for validation, and another,
    through a server-side cursor building model instances, for the options."""

    def __init__(self, read):
        self.read = read
        self.choices = None

    def __iter__(self):
        if self.choices is None:
            self.choices = [("", "Any"), *self.read()]
        yield from self.choices


def _severity_choices():
    # The label as Severity.__str__ writes it.
    return (
        (code, f"{code} — {name}")
        for code, name in selectors.severities().values_list("code", "name")
    )


def _service_choices():
    return Service.objects.order_by("name").values_list("slug", "name")


class IncidentFilterForm(forms.Form):
    """The list's filters, named as the API names them."""

    STATUS_CHOICES = [("all", "All"), ("open", "Open"), ("closed", "Closed")]
    OPEN_BY_STATUS = {"all": None, "open": True, "closed": False}
    # As ModelChoiceField says it (the filters were model choices): the value is not echoed.
    NOT_AN_OPTION = {
        "invalid_choice": forms.ModelChoiceField.default_error_messages["invalid_choice"]
    }

    q = forms.CharField(label="Search", max_length=SEARCH_MAX, required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, widget=Select)
    severity = forms.ChoiceField(required=False, widget=Select, error_messages=NOT_AN_OPTION)
    stage = forms.ChoiceField(choices=[("", "Any"), *Stage.choices], required=False, widget=Select)
    service = forms.ChoiceField(
        required=False,
        widget=TypeaheadSelect(source="search-services", key="key"),
        error_messages=NOT_AN_OPTION,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = _ChoicesReadOnce(_severity_choices)
        self.fields["service"].choices = _ChoicesReadOnce(_service_choices)

    def filters(self) -> dict:
        """The selector's filters from whichever fields are valid; invalid ones are ignored."""
        data = getattr(self, "cleaned_data", {})
        return {
            "search": data.get("q", ""),
            "open": self.OPEN_BY_STATUS.get(data.get("status") or "all"),
            "severity": data.get("severity") or None,
            "stage": data.get("stage") or None,
            "service": data.get("service") or None,
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
        widget=TypeaheadSelectMultiple(source="search-services", attrs={"size": 6}),
        help_text=SERVICES_HELP,
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started_at"].label = in_zone_label(STARTED_AT_LABEL)


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
            "services": TypeaheadSelectMultiple(source="search-services", attrs={"size": 6}),
        }
        labels = {"started_at": STARTED_AT_LABEL}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["started_at"].label = in_zone_label(STARTED_AT_LABEL)

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
    """Options are typed one per row; the chosen one is picked with the radio button in
    its row (``chosen`` is the row's number), never retyped.

    Rows are ``option_0`` … ``option_<n>``; the form takes as many as were posted (up
    to ``MAX_DECISION_OPTIONS``), so rows added in the browser are kept on an error.
    """

    prefix = "decision"

    chosen = forms.TypedChoiceField(
        label="Chosen option",
        coerce=int,
        choices=[(str(i), str(i)) for i in range(MAX_DECISION_OPTIONS)],
        widget=forms.RadioSelect,
        error_messages={"required": "Pick the chosen option with its radio button."},
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
    supersedes = forms.ModelChoiceField(
        label="Replaces",
        queryset=None,
        required=False,
        empty_label="Nothing: a new decision",
        help_text="An earlier decision this one supersedes; it is kept, marked superseded.",
    )

    def __init__(self, *args, decisions=(), **kwargs):
        super().__init__(*args, **kwargs)
        current = [decision for decision in decisions if not _is_superseded(decision)]
        field = self.fields["supersedes"]
        field.queryset = Decision.objects.filter(pk__in=[d.pk for d in current])
        field.label_from_instance = lambda decision: (
            f"{local_format(decision.decided_at, '%H:%M')}: {decision.chosen}"
        )
        if not current:
            del self.fields["supersedes"]
        rows = DECISION_OPTION_ROWS
        if self.is_bound:
            posted = [
                int(key.rsplit("_", 1)[1])
                for key in self.data
                if key.startswith(f"{self.prefix}-option_") and key.rsplit("_", 1)[1].isdigit()
            ]
            rows = max([rows, *(n + 1 for n in posted if n < MAX_DECISION_OPTIONS)])
        examples = ["Roll back", "Fix forward", "Fail over", "Wait and watch"]
        for row in range(rows):
            self.fields[f"option_{row}"] = forms.CharField(
                label=f"Option {row + 1}",
                max_length=SHORT_TEXT_MAX,
                required=False,
                validators=[single_line],
                widget=forms.TextInput(
                    attrs={"placeholder": f"e.g. {examples[row]}"} if row < len(examples) else {}
                ),
            )
        self.option_names = [f"option_{row}" for row in range(rows)]

    def option_rows(self):
        """(text field, radio) per row, for the template."""
        radios = {radio.data["value"]: radio for radio in self["chosen"]}
        return [(self[name], radios[str(row)]) for row, name in enumerate(self.option_names)]

    def clean(self):
        cleaned = super().clean()
        options = [cleaned.get(name, "") or "" for name in self.option_names]
        if not any(option.strip() for option in options):
            self.add_error(self.option_names[0], "List at least one option that was considered.")
            return cleaned
        chosen = cleaned.get("chosen")
        if chosen is not None and not (chosen < len(options) and options[chosen].strip()):
            self.add_error("chosen", "The chosen row is empty: pick a row with an option.")
        cleaned["options"] = options
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "options": data["options"],
            "chosen_index": data["chosen"],
            "rationale": data["rationale"],
            "information": data["information"],
            "supersedes": data.get("supersedes"),
        }


def _is_superseded(decision) -> bool:
    try:
        return decision.superseded_by is not None
    except Decision.superseded_by.RelatedObjectDoesNotExist:
        return False


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


class IncidentNumberField(forms.IntegerField):
    """An incident's number, written ``12`` or ``#12``."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().lstrip("#").strip()
        return super().to_python(value)


class CloseForm(forms.Form):
    """Close with an outcome. *Resolved* is preselected only when its rules hold; the
    other outcomes need a reason, and a duplicate the number of the incident it duplicates."""

    prefix = "close"

    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[
            (outcome.value, f"{outcome.label} — {OUTCOME_HELP[outcome]}") for outcome in Outcome
        ],
        widget=forms.RadioSelect,
        # Nothing picked is *resolved*: the strict outcome, which never closes by mistake.
        required=False,
    )
    duplicate_of = IncidentNumberField(
        label="Duplicate of incident #",
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "e.g. 42"}),
        help_text="Only for a duplicate: the incident that tracks the work.",
    )
    note = forms.CharField(
        label="Reason",
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
        help_text="Required unless resolved; kept on the timeline.",
    )
    public_message = forms.CharField(
        label="Status page message",
        max_length=SHORT_TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
        help_text="If customers see a public incident, it is resolved with this text "
        "(empty: a standard wording for the outcome). Not used for resolved.",
    )

    def __init__(self, *args, resolvable: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if resolvable:
            self.fields["outcome"].initial = Outcome.RESOLVED

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned["outcome"] = cleaned.get("outcome") or Outcome.RESOLVED
        if outcome == Outcome.DUPLICATE and not cleaned.get("duplicate_of"):
            self.add_error("duplicate_of", "Say which incident this duplicates (its number).")
        if outcome and outcome != Outcome.RESOLVED and not (cleaned.get("note") or "").strip():
            self.add_error("note", f"Say why it is closed as {Outcome(outcome).label.lower()}.")
        if outcome != Outcome.DUPLICATE:
            cleaned["duplicate_of"] = None
        return cleaned


class StageTimeCorrectForm(forms.Form):
    """Correct a reached stage's time, or give a wrongly skipped stage its real time."""

    prefix = "correct"

    stage = forms.ChoiceField(label="Stage")
    at = forms.DateTimeField(label="Really reached at", widget=_datetime_input())
    reason = forms.CharField(
        label="Reason",
        max_length=SHORT_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
        help_text="Kept on the timeline with the old and the new time.",
    )

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        choices = []
        for stage in lifecycle.ORDER[: lifecycle.index(incident.stage) + 1]:
            at_field, _by = lifecycle.STAGE_FIELDS[stage]
            at = getattr(incident, at_field)
            label = Stage(stage).label
            choices.append(
                (stage, f"{label} (skipped)" if at is None else f"{label} ({local_format(at)})")
            )
        self.fields["stage"].choices = choices
        self.fields["at"].label = in_zone_label("Really reached at")
        skipped = [stage for stage, label in choices if label.endswith("(skipped)")]
        if skipped:
            self.fields["stage"].initial = skipped[0]


class NoteEditForm(forms.Form):
    text = forms.CharField(
        label="Note",
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )


class NoteStrikeForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional)", max_length=SHORT_TEXT_MAX, required=False, validators=[single_line]
    )


class RoleAssignForm(forms.Form):
    prefix = "role"

    role = forms.ChoiceField(choices=RoleAssignment.Role.choices)
    user = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        widget=TypeaheadSelect(source="search-people"),
    )


class ResponderRemoveForm(forms.Form):
    prefix = "remove"

    user = forms.ModelChoiceField(queryset=User.objects.all())
