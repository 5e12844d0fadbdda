"""What the templates need to show or edit one section: its fields with their values
as the inputs hold them, its rows as cells, its tables and charts as HTML."""

from functools import cached_property

from django.utils import timezone

from postmortems import charts, widgets
from postmortems.documents import render_markdown, section_content
from postmortems.forms import form_rows, structure_of
from postmortems.models import Postmortem, Section
from postmortems.sections import SPECS


def chart_window(postmortem: Postmortem) -> charts.Window:
    incident = postmortem.incident
    end = incident.recovered_at or incident.closed_at or timezone.now()
    return charts.Window(start=incident.started_at, end=max(end, incident.started_at))


class SectionView:
    def __init__(
        self, section: Section, postmortem: Postmortem, *, editable: bool, window, content=None
    ):
        self.section = section
        self.key = section.key
        self.kind = section.kind
        self.spec = SPECS[section.kind]
        self.content = section_content(section, postmortem) if content is None else content
        self.editable = editable
        self.structure = structure_of(section, self.content)
        self._window = window

    @cached_property
    def fields(self) -> list[dict]:
        out = []
        for field in self.spec.fields:
            value = self.content.get(field.name)
            html = render_markdown(value or "") if field.type == "markdown" else ""
            out.append({"field": field, "value": field.form_value(value), "html": html})
        return out

    @cached_property
    def rows(self):
        return form_rows(self.section, self.content)

    @cached_property
    def display_rows(self) -> list[dict]:
        return self.content.get("rows") or []

    @cached_property
    def charts(self) -> list[dict]:
        return self.spec.charts(self.display_rows, window=self._window)

    @cached_property
    def rows_form_html(self):
        return widgets.rows_form(self)

    @cached_property
    def rows_table_html(self):
        return widgets.rows_table(self)

    @cached_property
    def choice_labels(self) -> dict:
        return {
            f.name: dict(f.choices) for f in (*self.spec.fields, *self.spec.row_fields) if f.choices
        }
