"""The postmortem as one document: section content with row-backed kinds filled
in (for the API and the editor), Markdown → sanitised HTML, and the Markdown export."""

from datetime import UTC

import nh3
from markdown_it import MarkdownIt

from postmortems.models import ActionItem, Postmortem, RemediationOption, Section, SectionKind
from postmortems.sections import SPECS

_markdown = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False}
).enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


def render_markdown(text: str) -> str:
    """Markdown → HTML that is safe to embed: raw HTML is escaped by the parser, then
    nh3 keeps only formatting tags, drops every ``on*`` attribute and any link whose
    scheme is not http(s)/mailto (so no ``javascript:``)."""
    if not text:
        return ""
    return sanitize_html(_markdown.render(text))


def sanitize_html(html: str) -> str:
    """Only formatting tags; no ``on*`` attributes, no scripts, only http(s)/mailto links."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def remediation_row(option: RemediationOption) -> dict:
    return {
        "id": option.pk,
        "title": option.title,
        "description": option.description,
        "pros": option.pros,
        "cons": option.cons,
        "chosen": option.chosen,
        "reason": option.reason,
    }


def action_item_row(item: ActionItem) -> dict:
    return {
        "id": item.pk,
        "title": item.title,
        "term": item.term,
        "kind": item.kind,
        "owner": item.owner.get_username() if item.owner else None,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "priority": item.priority,
        "status": item.status,
        "tracker_url": item.tracker_url,
    }


def section_content(section: Section, postmortem: Postmortem) -> dict:
    """The section's content as the API shows and accepts it (uses prefetched rows)."""
    if section.kind == SectionKind.REMEDIATIONS:
        return {"rows": [remediation_row(o) for o in postmortem.remediation_options.all()]}
    if section.kind == SectionKind.ACTION_ITEMS:
        return {"rows": [action_item_row(i) for i in postmortem.action_items.all()]}
    return section.content


# --- Markdown export ---------------------------------------------------------------


def _cell(value) -> str:
    if value is None or value == "":
        return "—"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list]) -> list[str]:
    if not rows:
        return ["_None recorded._", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _section_markdown(section: Section, content: dict) -> list[str]:
    spec = SPECS[section.kind]
    out: list[str] = []
    kind = section.kind
    if kind == SectionKind.MARKDOWN:
        return [content.get("text") or "_Not written yet._", ""]
    if kind == SectionKind.METRICS:
        headers = [
            "Metric",
            "Unit",
            "Before",
            "During",
            "After",
            "Threshold",
            "Crossed at",
            "Points",
        ]
        rows = [
            [
                r["name"],
                r["unit"],
                r["before"],
                r["during"],
                r["after"],
                r["threshold"],
                r["crossed_at"],
                len(r.get("series") or []),
            ]
            for r in content.get("rows", [])
        ]
        return _table(headers, rows)
    if kind == SectionKind.REMEDIATIONS:
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
    if spec.tabular:
        fields = [f for f in spec.row_fields if f.type not in ("id", "series")]
        rows = [[r.get(f.name) for f in fields] for r in content.get("rows", [])]
        return _table([f.label for f in fields], rows)
    for field in spec.fields:
        value = content.get(field.name)
        if not value:
            continue
        if field.type == "lines":
            out += [f"**{field.label.split(' (')[0]}**", ""]
            out += [f"{i}. {line}" for i, line in enumerate(value, 1)] + [""]
        elif field.type == "choices":
            labels = dict(field.choices)
            out += [f"**{field.label}:** " + ", ".join(labels.get(v, v) for v in value), ""]
        elif field.type == "longtext":
            fence = "`" * max(3, _longest_backtick_run(value) + 1)
            out += [f"**{field.label}**", "", fence, value, fence, ""]
        elif field.type == "markdown":
            out += [f"**{field.label}**", "", value, ""] if len(spec.fields) > 1 else [value, ""]
        else:
            out += [f"- **{field.label}:** {value}"]
    return [*(out or ["_Not written yet._"]), ""]


def to_markdown(postmortem: Postmortem) -> str:
    incident = postmortem.incident
    lines = [
        f"# Postmortem: {postmortem.title}",
        "",
        f"- **Incident:** #{incident.pk} {incident.title} ({incident.severity.code})",
        f"- **Status:** {postmortem.get_status_display()} (version {postmortem.version})",
        f"- **Template:** {postmortem.template.name} v{postmortem.template.version}",
    ]
    if postmortem.published_at:
        lines.append(
            # Exports are UTC, whatever zone the exporting reader's pages use.
            f"- **Published:** {postmortem.published_at.astimezone(UTC):%Y-%m-%d %H:%M %Z}"
        )
    lines.append("")
    for section in postmortem.sections.all():
        lines += [f"## {section.title}", ""]
        lines += _section_markdown(section, section_content(section, postmortem))
    return "\n".join(lines).rstrip() + "\n"
