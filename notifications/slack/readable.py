"""Block Kit payloads made readable in Keel's own pages (the composer's preview).

Pure. Input is what ``blocks`` builds: user text already Slack-escaped, Keel's own
formatting (``*bold*``, ``_italic_``) and links (``<url|label>``) on top. Output is
HTML-escaped for Django templates; nothing the user typed becomes markup.
"""

import html
import re

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]*))?>")
_STYLES = [
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), "del"),
    (re.compile(r"`([^`\n]+)`"), "code"),
]


def _text(slack_escaped: str) -> str:
    """Slack's ``&amp; &lt; &gt;`` back to characters, escaped for HTML, then Slack's
    styles as tags (outside links, so a URL's underscores stay as they are)."""
    out = str(escape(html.unescape(slack_escaped)))
    for pattern, tag in _STYLES:
        out = pattern.sub(rf"<{tag}>\1</{tag}>", out)
    return out


def mrkdwn(text: str) -> SafeString:
    """Slack ``mrkdwn`` as HTML: bold, italic, strike, code, links, line breaks."""
    parts, last = [], 0
    for match in _LINK.finditer(text):
        parts.append(_text(text[last : match.start()]))
        url, label = match.group(1), match.group(2) or match.group(1)
        parts.append(format_html('<a href="{}" rel="noopener">{}</a>', url, html.unescape(label)))
        last = match.end()
    parts.append(_text(text[last:]))
    # Every piece is escaped above; only Keel's tags and links are markup.
    return mark_safe("".join(str(part) for part in parts).replace("\n", "<br>"))


def _object(obj: dict) -> SafeString:
    if obj.get("type") == "mrkdwn":
        return mrkdwn(obj.get("text", ""))
    return escape(obj.get("text", ""))  # plain_text: Slack shows it as given


def blocks_readable(blocks: list[dict]) -> list[dict]:
    """``[{"kind": "header" | "section" | "fields" | "actions", "html" | "items"}]``."""
    rows = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            rows.append({"kind": "header", "html": _object(block["text"])})
        elif kind == "section" and block.get("fields"):
            rows.append({"kind": "fields", "items": [_object(f) for f in block["fields"]]})
        elif kind == "section":
            rows.append({"kind": "section", "html": _object(block.get("text", {}))})
        elif kind == "actions":
            rows.append(
                {
                    "kind": "actions",
                    "items": [_object(element["text"]) for element in block.get("elements", [])],
                }
            )
    return rows
