"""The postmortem as one document: section content with row-backed kinds filled
in (for the API and the editor), Markdown → sanitised HTML, and the Markdown export."""

from datetime import UTC

import nh3
from markdown_it import MarkdownIt

from postmortems.models import Postmortem, Section
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


def section_content(section: Section, postmortem: Postmortem) -> dict:
    """The section's content as the API shows and accepts it (uses prefetched rows)."""
    return SPECS[section.kind].content_of(section, postmortem)


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
        lines += SPECS[section.kind].markdown(section_content(section, postmortem))
    return "\n".join(lines).rstrip() + "\n"
