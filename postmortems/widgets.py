"""HTML for tabular sections (the editor's row inputs and the read-only tables).

Built in Python rather than with template loops: a big postmortem has hundreds of
rows of several cells, and Django's template engine made that page slow (see
docs/benchmarks.md, "Postmortem rendering"). Every value goes through
``escape``/``format_html``.
"""

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from postmortems.sections import Field

NOOPENER = "noopener noreferrer nofollow"
# Row fields too wide for a column: each gets a full-width line under its row.
WIDE_TYPES = ("series",)


def _v(value) -> str:
    return "" if value is None else escape(value)


def _cell_input(field: Field, name: str, value, *, row_index: int, kind: str) -> str:
    label = escape(field.label)
    t = field.type
    if t == "bool" and kind == "remediations":
        checked = " checked" if value else ""
        return (
            f'<input type="radio" name="chosen" value="{row_index}" aria-label="Chosen"{checked}>'
        )
    if t == "bool":
        checked = " checked" if value else ""
        return f'<input type="checkbox" name="{name}" aria-label="{label}"{checked}>'
    if t == "choice":
        options = "".join(
            f'<option value="{escape(v)}"{" selected" if v == value else ""}>'
            f"{escape(text)}</option>"
            for v, text in field.choices
        )
        return f'<select name="{name}" aria-label="{label}">{options}</select>'
    if t == "datetime":
        return (
            f'<input type="datetime-local" step="1" name="{name}" value="{_v(value)}" '
            f'aria-label="{label}">'
        )
    if t == "date":
        return f'<input type="date" name="{name}" value="{_v(value)}" aria-label="{label}">'
    if t == "number":
        return (
            f'<input type="text" inputmode="decimal" name="{name}" value="{_v(value)}" '
            f'aria-label="{label}" class="pm-num">'
        )
    if t == "user":
        return (
            f'<input type="text" list="pm-users" name="{name}" value="{_v(value)}" '
            f'aria-label="{label}" maxlength="150" autocomplete="off" '
            'placeholder="username or full name">'
        )
    if t == "series":
        points = ""
        if value:
            points = (
                f'<p class="small pm-points">{int(value)} points <label class="small">'
                f'<input type="checkbox" name="{name}_clear"> clear</label></p>'
            )
        return (
            f'{points}<textarea name="{name}" rows="2" class="mono pm-csv" aria-label="{label}" '
            f'placeholder="time,value&#10;2026-03-01T10:00:00Z,12.5"></textarea>'
            f'<input type="file" name="{name}_file" accept=".csv,.json,text/csv,application/json" '
            f'aria-label="{label}: upload a CSV or JSON file" class="pm-series-file">'
        )
    if t == "url":
        return (
            f'<input type="url" name="{name}" value="{_v(value)}" aria-label="{label}" '
            f'maxlength="{field.max_length}">'
        )
    if field.max_length > 200:
        return (
            f'<textarea name="{name}" rows="2" aria-label="{label}" '
            f'maxlength="{field.max_length}">{_v(value)}</textarea>'
        )
    return (
        f'<input type="text" name="{name}" value="{_v(value)}" aria-label="{label}" '
        f'maxlength="{field.max_length}">'
    )


def rows_form(view) -> SafeString:
    """The editable table of a tabular section (existing rows plus a blank one)."""
    spec = view.spec
    rows = view.rows
    radio = view.kind == "remediations"
    columns = [f for f in spec.row_fields if f.type not in ("id", *WIDE_TYPES)]
    head = "".join(
        f'<th scope="col">{"Chosen" if f.type == "bool" and radio else escape(f.label)}</th>'
        for f in columns
    )
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
            if field.type == "id":
                parts.append(f'<input type="hidden" name="{cell.name}" value="{_v(cell.value)}">')
                continue
            if field.type in WIDE_TYPES:
                wide.append(cell)
                continue
            parts.append(
                f'<td data-label="{escape(field.label)}">'
                + _cell_input(field, cell.name, cell.value, row_index=i, kind=view.kind)
                + "</td>"
            )
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
            parts.append(
                f'<tr class="pm-row-more{" pm-row-new" if new else ""}" data-row="{i}">'
                f'<td colspan="{len(columns) + 1}" data-label="{escape(cell.field.label)}">'
                f'<span class="pm-more-label small">{escape(cell.field.label)}</span>'
                + _cell_input(cell.field, cell.name, cell.value, row_index=i, kind=view.kind)
                + "</td></tr>"
            )
    parts.append("</tbody></table></div>")
    return mark_safe("".join(parts))  # every interpolated value is escaped above


def _display_value(field: Field, value, labels: dict) -> str:
    if field.type == "series":
        return str(len(value or []))
    if field.type == "bool":
        return "✓ yes" if value else "— no"
    if field.type == "choice":
        return escape(labels.get(field.name, {}).get(value, value or "—"))
    if field.type == "datetime" and value:
        return escape(str(value)[:19].replace("T", " ") + " UTC")
    if field.type == "url" and value:
        return format_html('<a href="{}" rel="{}">link</a>', value, NOOPENER)
    if value is None or value == "":
        return "—"
    return escape(value)


def rows_table(view) -> SafeString:
    """The read-only table of a tabular section."""
    rows = view.display_rows
    if not rows:
        return mark_safe('<p class="muted">None recorded.</p>')
    fields = [f for f in view.spec.row_fields if f.type != "id"]
    labels = view.choice_labels
    head = "".join(
        f'<th scope="col">{"Points" if f.type == "series" else escape(f.label)}</th>'
        for f in fields
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_display_value(f, row.get(f.name), labels)}</td>" for f in fields)
        + "</tr>"
        for row in rows
    )
    return mark_safe(
        '<div class="table-wrap"><table class="compact-table pm-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
