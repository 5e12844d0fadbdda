"""Section kinds, one class each: their fields, how their content is validated and
pre-filled, where it is stored (the section's JSON, or tables of their own for
remediations and action items), how the editor draws it and how it is exported.

A kind with a behaviour of its own overrides one method here; nothing outside this
package compares a section's kind to decide what to do.
"""

import json
from typing import Any, ClassVar

from django.utils import timezone

from incidents.models import FailurePattern
from postmortems import charts, crossing, prefill, recurrence, section_rows
from postmortems.models import ActionItem, SectionKind
from postmortems.sections import fields as f
from postmortems.sections.values import (
    CONTENT_JSON_MAX,
    EXCERPT_MAX,
    LINE_MAX,
    MARKDOWN_MAX,
    MAX_ACTION_ITEMS,
    MAX_CHECKLIST,
    MAX_LINES,
    MAX_METRIC_ROWS,
    MAX_RECURRENCES,
    MAX_REMEDIATIONS,
    MAX_ROWS,
    MAX_SERIES_POINTS,
    MAX_TIMELINE_ENTRIES,
    fail,
    iso,
)

TREND_CHOICES = (
    ("up", "Rising"),
    ("down", "Falling"),
    ("flat", "Flat"),
    ("spiky", "Spiky"),
    ("unknown", "Unknown"),
)
CONNECTED_CHOICES = (("middleware", "Middleware"), ("application", "Connected application"))


def _table(headers: list[str], rows: list[list]) -> list[str]:
    if not rows:
        return ["_None recorded._", ""]

    def cell(value) -> str:
        if value is None or value == "":
            return "—"
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


class KindSpec:
    """A kind whose content is its scalar ``fields`` and, when it has
    ``row_fields``, a table of ``rows`` — all kept in the section's JSON."""

    kind: ClassVar[str]
    fields: ClassVar[tuple[f.Field, ...]] = ()
    row_fields: ClassVar[tuple[f.Field, ...]] = ()
    max_rows: ClassVar[int] = MAX_ROWS
    # The editor's form posts files (a metric's series as a CSV upload).
    uploads: ClassVar[bool] = False
    # The read-only page lists the rows as options (pros, cons, why) instead of a table.
    lists_options: ClassVar[bool] = False

    @property
    def tabular(self) -> bool:
        return bool(self.row_fields)

    @property
    def label(self) -> str:
        return SectionKind(self.kind).label

    def field_named(self, name: str) -> f.Field | None:
        return next((x for x in (*self.fields, *self.row_fields) if x.name == name), None)

    # --- content -------------------------------------------------------------------

    def empty(self) -> dict:
        content: dict[str, Any] = {field.name: field.empty() for field in self.fields}
        if self.tabular:
            content["rows"] = []
        return content

    def validate(self, content: Any, *, key: str) -> dict:
        if not isinstance(content, dict):
            fail(key, "expected an object.")
        known = {x.name for x in self.fields} | ({"rows"} if self.tabular else set())
        unknown = sorted(set(content) - known)
        if unknown:
            fail(key, f"unknown field(s) for a {self.kind} section: {', '.join(unknown)}.")
        result: dict = {
            x.name: x.clean(content.get(x.name), f"{key}.{x.name}") for x in self.fields
        }
        if self.tabular:
            result["rows"] = self._clean_rows(content.get("rows") or [], key=key)
        self.check(result, key=key)
        if len(json.dumps(result)) > CONTENT_JSON_MAX:
            fail(key, "the section is too large.")
        return result

    def _clean_rows(self, rows: Any, *, key: str) -> list[dict]:
        if not isinstance(rows, list):
            fail(f"{key}.rows", "expected a list.")
        if len(rows) > self.max_rows:
            fail(f"{key}.rows", f"at most {self.max_rows} rows.")
        names = {x.name for x in self.row_fields}
        clean = []
        for i, row in enumerate(rows):
            path = f"{key}.rows[{i}]"
            if not isinstance(row, dict):
                fail(path, "expected an object.")
            extra = sorted(set(row) - names)
            if extra:
                fail(path, f"unknown field(s): {', '.join(extra)}.")
            if self._row_is_blank(row):
                continue
            clean.append(
                {x.name: x.clean(row.get(x.name), f"{path}.{x.name}") for x in self.row_fields}
            )
        return clean

    def _row_is_blank(self, row: dict) -> bool:
        return all(
            row.get(x.name) in (None, "", [], False) for x in self.row_fields if x.type != "choice"
        )

    def check(self, content: dict, *, key: str) -> None:
        """Rules across fields, after each field is valid."""

    # --- where it lives ------------------------------------------------------------

    def prefill(self, section, incident) -> tuple[dict, dict]:
        """(content, generated) of the section in a new postmortem of ``incident``."""
        return self.empty(), {}

    def started(self, postmortem, incident, *, actor) -> None:
        """After a new postmortem's sections are written: rows of tables of its own."""

    def content_of(self, section, postmortem) -> dict:
        """The content as the API shows and accepts it (uses prefetched rows)."""
        return section.content

    def store(self, postmortem, content: dict, *, actor, key: str, label: str) -> dict:
        """Write what lives outside the section; returns what the section keeps."""
        return content

    # --- the editor and the exports --------------------------------------------------

    def as_posted(self, content: dict) -> dict:
        """Posted content, shaped to draw the form again after a refused save."""
        return content

    def charts(self, rows: list[dict], *, window) -> list[dict]:
        return []

    def markdown(self, content: dict) -> list[str]:
        if self.tabular:
            shown = [x for x in self.row_fields if x.placement == "column"]
            rows = [[r.get(x.name) for x in shown] for r in content.get("rows", [])]
            return _table([x.label for x in shown], rows)
        out: list[str] = []
        for field in self.fields:
            value = content.get(field.name)
            if value:
                out += field.markdown(value, alone=len(self.fields) == 1)
        return [*(out or ["_Not written yet._"]), ""]


class MarkdownKind(KindSpec):
    kind = SectionKind.MARKDOWN
    fields = (f.Markdown("text", "Text", MARKDOWN_MAX),)

    def prefill(self, section, incident):
        content = self.empty()
        filler = prefill.MARKDOWN_FILLERS.get(section.key)
        if filler:
            content["text"] = filler(incident)
        return content, {}

    def markdown(self, content):
        return [content.get("text") or "_Not written yet._", ""]


class GeneratedRows(KindSpec):
    """Rows generated from what the incident recorded, kept with the time they were
    generated so the editor can tell them from what people wrote."""

    def generate(self, incident) -> list[dict]:
        raise NotImplementedError

    def prefill(self, section, incident):
        content = self.empty()
        content["rows"] = self.generate(incident)
        return content, {"rows": content["rows"], "generated_at": iso(timezone.now())}


class TimelineKind(GeneratedRows):
    kind = SectionKind.TIMELINE
    row_fields = (
        f.DateTime("at", "When (UTC)", required=True),
        f.Field("text", "What happened", LINE_MAX, required=True),
        f.Field("kind", "Kind", 32),
    )
    max_rows = MAX_TIMELINE_ENTRIES

    def generate(self, incident):
        return prefill.generate_timeline(incident)


class MetricsKind(KindSpec):
    kind = SectionKind.METRICS
    row_fields = (
        f.Field("name", "Metric", 200, required=True),
        f.Field("unit", "Unit", 50),
        f.Number("before", "Before"),
        f.Number("during", "During"),
        f.Number("after", "After"),
        f.Number("threshold", "Threshold"),
        f.DateTime("crossed_at", "Crossed at (UTC)"),
        f.Series(
            "series",
            "Series (CSV: time,value)",
            max_items=MAX_SERIES_POINTS,
            help="Paste CSV lines 'timestamp,value' (ISO 8601 time).",
        ),
    )
    max_rows = MAX_METRIC_ROWS
    uploads = True

    def store(self, postmortem, content, *, actor, key, label):
        incident = postmortem.incident
        crossing.metric_rows_fill(
            content["rows"], impact_began=incident.started_at, recovered=incident.recovered_at
        )
        return content

    def as_posted(self, content):
        # A pasted series was not saved; show its point count only if it parsed.
        for row in content.get("rows", []):
            if isinstance(row.get("series"), str):
                row["series"] = []
        return content

    def charts(self, rows, *, window):
        return [
            {
                "name": row["name"],
                "svg": charts.series_svg(
                    points=row["series"],
                    name=row["name"],
                    unit=row.get("unit", ""),
                    threshold=row.get("threshold"),
                    window=window,
                ),
            }
            for row in rows
            if len(row.get("series") or []) >= 2
        ]

    def markdown(self, content):
        names = ("name", "unit", "before", "during", "after", "threshold", "crossed_at")
        headers = ["Metric", "Unit", "Before", "During", "After", "Threshold", "Crossed at"]
        rows = [
            [*(r[name] for name in names), len(r.get("series") or [])]
            for r in content.get("rows", [])
        ]
        return _table([*headers, "Points"], rows)


class ThresholdsKind(KindSpec):
    kind = SectionKind.THRESHOLDS
    row_fields = (
        f.Field("metric", "Metric", 200, required=True),
        f.Field("unit", "Unit", 50),
        f.Number("warning", "Warning at"),
        f.Number("critical", "Critical at"),
        f.Field("note", "Note", LINE_MAX),
    )


class LogWindowKind(KindSpec):
    kind = SectionKind.LOG_WINDOW
    fields = (
        f.DateTime("start", "Start (UTC)"),
        f.DateTime("end", "End (UTC)"),
        f.Url("link", "Link to the logs", 500),
        f.LongText("excerpt", "Excerpt", EXCERPT_MAX),
    )

    def check(self, content, *, key):
        if content["start"] and content["end"] and content["start"] > content["end"]:
            fail(f"{key}.end", "the window must end after it starts.")


class FailurePointsKind(KindSpec):
    kind = SectionKind.FAILURE_POINTS
    row_fields = (
        f.Field("component", "Component", 200, required=True),
        f.Field("connection", "Connection to", 200),
        f.Field("description", "What failed", LINE_MAX),
        f.DateTime("observed_at", "Observed at (UTC)"),
    )


class MiddlewareKind(KindSpec):
    kind = SectionKind.MIDDLEWARE
    row_fields = (
        f.Field("name", "Name", 200, required=True),
        f.Choice("type", "Type", 16, choices=CONNECTED_CHOICES),
        f.Choice("trend", "Trend", 16, choices=TREND_CHOICES),
        f.Field("note", "Note", LINE_MAX),
    )


class RemediationsKind(KindSpec):
    """Options considered; exactly one chosen, with the reason. Rows of their own
    (``RemediationOption``), pre-filled from the incident's decisions."""

    kind = SectionKind.REMEDIATIONS
    row_fields = (
        f.RowId("id", "id"),
        f.Field("title", "Option", 200, required=True),
        f.Field("description", "Description", 2_000),
        f.Field("pros", "Pros", 2_000),
        f.Field("cons", "Cons", 2_000),
        f.OneOfRows("chosen", "Chosen"),
        f.Field("reason", "Why (required for the chosen one)", 2_000),
    )
    max_rows = MAX_REMEDIATIONS
    lists_options = True

    def check(self, content, *, key):
        chosen = [row for row in content["rows"] if row["chosen"]]
        if len(chosen) > 1:
            fail(f"{key}.rows", "choose exactly one option.")
        if chosen and not chosen[0]["reason"]:
            fail(f"{key}.rows", "say why the chosen one was chosen.")

    def prefill(self, section, incident):
        return {}, {}

    def started(self, postmortem, incident, *, actor):
        section_rows.remediations_from_decisions(postmortem, incident, actor=actor)

    def content_of(self, section, postmortem):
        return {"rows": section_rows.remediation_rows(postmortem)}

    def store(self, postmortem, content, *, actor, key, label):
        section_rows.remediations_replace(
            postmortem, content["rows"], actor=actor, key=key, label=label
        )
        return {}

    def markdown(self, content):
        out = []
        for row in content.get("rows", []):
            mark = "**Chosen** — " if row["chosen"] else ""
            out.append(
                f"- {mark}**{row['title']}**"
                + (f": {row['description']}" if row["description"] else "")
            )
            if row["pros"]:
                out.append(f"  - Pros: {row['pros']}")
            if row["cons"]:
                out.append(f"  - Cons: {row['cons']}")
            if row["chosen"]:
                out.append(f"  - Why: {row['reason']}")
        return [*(out or ["_None recorded._"]), ""]


class RootCauseKind(KindSpec):
    kind = SectionKind.ROOT_CAUSE
    fields = (
        f.Markdown("text", "Analysis", MARKDOWN_MAX),
        f.Lines(
            "contributing_factors",
            "Contributing factors (one per line)",
            LINE_MAX,
            max_items=MAX_LINES,
        ),
        f.Choices(
            "failure_patterns",
            "Failure patterns",
            32,
            choices=tuple(FailurePattern.choices),
            max_items=len(FailurePattern.values),
        ),
        f.Lines("five_whys", "Five whys (one per line)", LINE_MAX, max_items=10),
    )

    def prefill(self, section, incident):
        content = self.empty()
        content["failure_patterns"] = list(incident.failure_patterns or [])
        return content, {}


class ActionItemsKind(KindSpec):
    """Rows of their own (``ActionItem``): listed across incidents, reminded, verified."""

    kind = SectionKind.ACTION_ITEMS
    row_fields = (
        f.RowId("id", "id"),
        f.Field("title", "Action", 200, required=True),
        f.Choice("term", "Term", 8, choices=tuple(ActionItem.Term.choices)),
        f.Choice("kind", "Kind", 16, choices=tuple(ActionItem.Kind.choices)),
        f.Person("owner", "Owner", 150),
        f.Date("due_date", "Due"),
        f.Choice("priority", "Priority", 2, choices=tuple(ActionItem.Priority.choices)),
        f.Choice("status", "Status", 16, choices=tuple(ActionItem.Status.choices)),
        f.Url("tracker_url", "Tracker link", 500),
    )
    max_rows = MAX_ACTION_ITEMS

    def prefill(self, section, incident):
        return {}, {}

    def content_of(self, section, postmortem):
        return {"rows": section_rows.action_item_rows(postmortem)}

    def store(self, postmortem, content, *, actor, key, label):
        section_rows.action_items_replace(
            postmortem, content["rows"], actor=actor, key=key, label=label
        )
        return {}


class ChecklistKind(KindSpec):
    kind = SectionKind.CHECKLIST
    row_fields = (f.Field("text", "Item", 500, required=True), f.Bool("done", "Done"))
    max_rows = MAX_CHECKLIST


class WentWellKind(KindSpec):
    kind = SectionKind.WENT_WELL
    fields = (
        f.Markdown("went_well", "Went well", 10_000),
        f.Markdown("went_badly", "Went badly", 10_000),
        f.Markdown("got_lucky", "Got lucky", 10_000),
    )


class RecurrenceKind(GeneratedRows):
    kind = SectionKind.RECURRENCE
    row_fields = (
        f.RowId("incident", "Incident #"),
        f.Field("title", "Past incident", 200, required=True),
        f.Field("alike", "Alike in", LINE_MAX),
        f.Field("remediation", "Chosen to fix it", 2_000),
        f.Field("action_items", "Its action items", 2_000),
        f.Field("why_again", "Why it came back", 2_000),
    )
    max_rows = MAX_RECURRENCES

    def generate(self, incident):
        return recurrence.recurrence_rows(incident)


SPECS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        MarkdownKind(),
        TimelineKind(),
        MetricsKind(),
        ThresholdsKind(),
        LogWindowKind(),
        FailurePointsKind(),
        MiddlewareKind(),
        RemediationsKind(),
        RootCauseKind(),
        ActionItemsKind(),
        ChecklistKind(),
        WentWellKind(),
        RecurrenceKind(),
    )
}
