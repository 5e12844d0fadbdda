"""HTML for tabular sections (the editor's row inputs and the read-only tables).

Built in Python rather than with template loops: a big postmortem has hundreds of
rows of several cells, and Django's template engine made that page slow (see
docs/benchmarks.md, "Postmortem rendering"). Each field type draws its own input
and value (``postmortems.sections.fields``), escaping what it interpolates.
"""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def rows_form(view) -> SafeString:
    """The editable table of a tabular section (existing rows plus a blank one)."""
    rows = view.rows
    columns = [f for f in view.spec.row_fields if f.placement == "column"]
    head = "".join(f'<th scope="col">{escape(f.label)}</th>' for f in columns)
    parts = [
        f'<input type="hidden" name="rows" value="{len(rows)}">',
        '<div class="table-wrap">',
        f'<table class="pm-rows compact-table" data-kind="{escape(view.kind)}">',
        f'<thead><tr>{head}<th scope="col"><span class="visually-hidden">Remove</span></th>'
        "</tr></thead><tbody>",
    ]
    last = len(rows) - 1
    for i, cells in enumerate(rows):
        new = i == last
        parts.append(f'<tr class="pm-row{" pm-row-new" if new else ""}" data-row="{i}">')
        wide = []
        for cell in cells:
            field = cell.field
            if field.placement == "wide":
                wide.append(cell)
                continue
            cell_html = field.cell_input(cell.name, cell.value, row_index=i)
            if field.placement == "hidden":
                parts.append(cell_html)
                continue
            parts.append(f'<td data-label="{escape(field.label)}">{cell_html}</td>')
        if new:
            parts.append('<td><span class="muted small">new</span></td>')
        else:
            parts.append(
                f'<td><label class="small"><input type="checkbox" name="r-{i}-delete"> '
                "remove</label></td>"
            )
        parts.append("</tr>")
        for cell in wide:
            # A series is long text: a line of its own under its row, as wide as the
            # table, so the row's other columns fit the card (issue 11: it was clipped).
            label = escape(cell.field.label)
            parts.append(
                f'<tr class="pm-row-more{" pm-row-new" if new else ""}" data-row="{i}">'
                f'<td colspan="{len(columns) + 1}" data-label="{label}">'
                f'<span class="pm-more-label small">{label}</span>'
                + cell.field.cell_input(cell.name, cell.value, row_index=i)
                + "</td></tr>"
            )
    parts.append("</tbody></table></div>")
    return mark_safe("".join(parts))  # every interpolated value is escaped above


def rows_table(view) -> SafeString:
    """The read-only table of a tabular section."""
    rows = view.display_rows
    if not rows:
        return mark_safe('<p class="muted">None recorded.</p>')
    fields = [f for f in view.spec.row_fields if f.placement != "hidden"]
    head = "".join(f'<th scope="col">{escape(f.column_label)}</th>' for f in fields)
    body = "".join(
        "<tr>" + "".join(f"<td>{f.cell_display(row.get(f.name))}</td>" for f in fields) + "</tr>"
        for row in rows
    )
    return mark_safe(
        '<div class="table-wrap"><table class="compact-table pm-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
