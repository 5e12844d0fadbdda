"""The editor's forms. A section's inputs are generated from its kind's spec
(``postmortems.sections``), and posted values are turned back into the content
shape the services validate — the same validation as the API."""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import QueryDict

from common import roles
from common.validators import multi_line, single_line
from common.widgets import TypeaheadSelectMultiple
from incidents.models import TEXT_MAX, TITLE_MAX, Service, Team
from postmortems import sections as kinds
from postmortems.models import (
    COMMENT_MAX,
    EVIDENCE_DAYS_MAX,
    NAME_MAX,
    PUBLIC_SUMMARY_MAX,
    QUERY_MAX,
    ActionItem,
    ActionItemEvidence,
    Postmortem,
)
from postmortems.sections import SPECS, Field

User = get_user_model()
MAX_POSTED_ROWS = 1_100
BLANK_ROWS = 1
SIMILAR_SERVICES_MAX = 50


def content_from_post(section, post: QueryDict, current: dict, files=None) -> dict:
    """Posted inputs → content for ``section``'s kind.

    Tabular rows are ``r-<i>-<field>``; a ticked ``r-<i>-delete`` drops the row. Each
    field reads its own inputs (a metric's series keeps the saved points unless new
    ones are pasted or uploaded, so an autosave never re-sends thousands of points).
    """
    spec = SPECS[section.kind]
    content: dict = {field.name: field.from_post(post, field.name) for field in spec.fields}
    if not spec.tabular:
        return content
    try:
        count = min(int(post.get("rows", "0")), MAX_POSTED_ROWS)
    except ValueError:
        count = 0
    saved_rows = {row.get("name"): row for row in (current.get("rows") or [])}
    rows = []
    for i in range(count):
        prefix = f"r-{i}-"
        if f"{prefix}delete" in post:
            continue
        row: dict = {}
        for field in spec.row_fields:
            row[field.name] = field.from_post(
                post,
                prefix + field.name,
                row_index=i,
                files=files,
                saved=saved_rows.get(row.get("name"), {}).get(field.name),
                path=f"{section.key}.rows[{len(rows)}].{field.name}",
            )
        rows.append(row)
    content["rows"] = rows
    return content


@dataclass(frozen=True)
class Cell:
    field: Field
    name: str
    value: Any


def form_rows(section, content: dict) -> list[list[Cell]]:
    """Rows of input cells for a tabular section, plus blank rows to add to."""
    spec = SPECS[section.kind]
    rows = list(content.get("rows") or [])
    rows += [{} for _ in range(BLANK_ROWS)]
    out = []
    for i, row in enumerate(rows):
        cells = []
        for field in spec.row_fields:
            value = field.form_value(row.get(field.name))
            cells.append(Cell(field=field, name=f"r-{i}-{field.name}", value=value))
        out.append(cells)
    return out


def structure_of(section, content: dict) -> str:
    """What the editor's inputs depend on beyond their values: rows, ids and series sizes.
    When a save changes it, the editor re-renders the whole section."""
    rows = content.get("rows")
    if rows is None:
        return "-"
    return (
        ";".join(f"{row.get('id') or ''}:{len(row.get('series') or [])}" for row in rows)
        + f"#{len(rows)}"
    )


def reviewer_candidates(*, exclude=None):
    """Who may be named reviewer: active responders and admins (viewers never)."""
    queryset = (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[roles.RESPONDERS, roles.ADMINS]))
        .distinct()
        .order_by("username")
    )
    return queryset.exclude(pk=exclude.pk) if exclude is not None else queryset


class SubmitForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(
        queryset=reviewer_candidates(),
        to_field_name="username",
        widget=TypeaheadSelectMultiple(
            source="search-people", key="key", params={"role": "driver"}, attrs={"size": 4}
        ),
        help_text="Who must approve before publishing: responders or admins, not the "
        "main author. Each is emailed a review request.",
    )

    def __init__(self, *args, main_author=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = reviewer_candidates(exclude=main_author)


class CommentForm(forms.Form):
    comment = forms.CharField(
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[multi_line],
    )


class PublishForm(forms.Form):
    public_summary = forms.CharField(
        label="Customer-facing summary (optional, posted to the status page)",
        max_length=PUBLIC_SUMMARY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[multi_line],
    )


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=200, required=False)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Postmortem.Status.choices], required=False
    )


class ActionItemFilterForm(forms.Form):
    owner = forms.CharField(max_length=150, required=False)
    team = forms.SlugField(max_length=100, required=False)
    status = forms.ChoiceField(choices=[("", "Any"), *ActionItem.Status.choices], required=False)
    overdue = forms.BooleanField(required=False, label="Overdue only")


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=200, validators=[single_line])
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        help_text="A team's template is used for incidents on the services it owns.",
    )
    sections = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 16, "class": "mono"}),
        help_text="One section per line: key | kind | title | help text. Order is the order "
        "of the sections. Kinds: " + ", ".join(SPECS),
    )

    def clean_sections(self) -> list[dict]:
        rows = []
        for number, line in enumerate(self.cleaned_data["sections"].splitlines(), 1):
            if not line.strip():
                continue
            parts = [part.strip() for part in line.split("|", 3)]
            if len(parts) < 3:
                raise forms.ValidationError(f"Line {number}: expected 'key | kind | title'.")
            rows.append(
                {
                    "key": parts[0],
                    "kind": parts[1],
                    "title": parts[2],
                    "help_text": parts[3] if len(parts) > 3 else "",
                }
            )
        return rows


def template_initial(template) -> dict:
    """``TemplateForm``'s values for revising ``template``: its sections one per line
    (nothing for a new template)."""
    if template is None:
        return {}
    sections = "\n".join(
        " | ".join([s.key, s.kind, s.title] + ([s.help_text] if s.help_text else []))
        for s in template.sections.all()
    )
    return {"name": template.name, "team": template.team, "sections": sections}


class SimilarDraftForm(forms.Form):
    """What the declare form has typed so far, for the similar-incident suggestions."""

    title = forms.CharField(max_length=TITLE_MAX, required=False, validators=[single_line])
    summary = forms.CharField(max_length=TEXT_MAX, required=False, validators=[multi_line])
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.all(), required=False)

    def clean_services(self):
        services = self.cleaned_data["services"]
        if len(services) > SIMILAR_SERVICES_MAX:
            raise forms.ValidationError(f"At most {SIMILAR_SERVICES_MAX} services.")
        return services


class EvidenceForm(forms.Form):
    """Link a prevent or detect action item to the metric that shows it works."""

    metric = forms.CharField(
        max_length=NAME_MAX, validators=[single_line], help_text="What is measured, with unit."
    )
    query = forms.CharField(
        max_length=QUERY_MAX,
        required=False,
        validators=[single_line],
        label="Query (PromQL)",
        help_text="Run against the configured metrics source; leave empty to paste a series.",
    )
    series = forms.CharField(
        required=False,
        max_length=kinds.MAX_SERIES_POINTS * 80,
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        label="Series (CSV: time,value)",
        help_text="One 'timestamp,value' line per point (ISO 8601 time).",
    )
    threshold = forms.FloatField()
    stay = forms.ChoiceField(
        choices=ActionItemEvidence.Stay.choices, label="The metric must", initial="below"
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=EVIDENCE_DAYS_MAX,
        initial=7,
        label="For how many days",
        help_text="Verified only when the whole window stayed on the right side.",
    )

    LINKED = ("metric", "query", "threshold", "stay", "days")

    @classmethod
    def for_link(cls, data, link: ActionItemEvidence | None) -> "EvidenceForm":
        """The form, starting from the item's current link (a re-link edits it)."""
        initial = {name: getattr(link, name) for name in cls.LINKED} if link else None
        return cls(data, initial=initial)
