"""Block Kit payloads for incident announcements and thread replies. Pure functions.

Every piece of user text (titles, messages, names, services) put into a message's
``text`` or a ``mrkdwn`` object goes through :func:`escape`, so ``<!channel>``,
``<@U123>`` and ``<http://evil|text>`` typed by a user show literally instead of
pinging a channel or disguising a link. ``plain_text`` objects (the header, button
labels) are not parsed for mentions or links and Slack shows them as given, so they
are not escaped. Keel's own formatting (``*bold*``, links it builds) is added after.
"""

from incidents.lifecycle import ORDER, STAGE_HELP

# Read back by notifications.slack.inbound.parse_action.
ACTION_ACKNOWLEDGE = "incident_acknowledge"
ACTION_MOVE = "incident_move"

STAGE_EMOJI = {
    "detect": ":rotating_light:",
    "propagate": ":loudspeaker:",
    "judge": ":scales:",
    "recover": ":hammer_and_wrench:",
    "analyze": ":mag:",
    "share": ":memo:",
    "retrospect": ":white_check_mark:",
}


def escape(text: str) -> str:
    """Slack's escaping for message text and mrkdwn: ``&``, ``<`` and ``>`` only
    (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def announcement(*, incident: dict) -> tuple[str, list[dict]]:
    """The root message: title, severity, stage, commander, links. Updated in place."""
    closed = " (closed)" if incident["closed"] else ""
    severity = escape(incident["severity"])
    stage_label = escape(incident["stage_label"])
    text = f"{severity} · {stage_label}{closed} — #{incident['id']} {escape(incident['title'])}"
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{severity}"},
        {
            "type": "mrkdwn",
            "text": f"*Stage*\n{STAGE_EMOJI.get(incident['stage'], '')} {stage_label}{closed}",
        },
    ]
    # A field with nothing to say is left out rather than shown as a dash.
    for label, key in (("Commander", "commander"), ("Services", "services")):
        if incident[key]:
            fields.append({"type": "mrkdwn", "text": f"*{label}*\n{escape(incident[key])}"})
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"#{incident['id']} {incident['title']}"[:150]},
        },
        {"type": "section", "fields": fields},
        {"type": "actions", "elements": _actions(incident)},
    ]
    return text, blocks


def _actions(incident: dict) -> list[dict]:
    """Open in Keel; while open also Acknowledge and a move to the next stage. The
    move button names its target so a stale button cannot move the incident twice."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Keel"},
            "url": incident["url"],
            "action_id": "open_incident",
        }
    ]
    if incident["closed"]:
        return elements
    elements.append(
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Acknowledge"},
            "value": str(incident["id"]),
            "action_id": ACTION_ACKNOWLEDGE,
            "style": "primary",
        }
    )
    position = ORDER.index(incident["stage"]) if incident["stage"] in ORDER else len(ORDER)
    if position + 1 < len(ORDER):
        target = ORDER[position + 1]
        label = target.capitalize()
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": f"Move to {label}"},
                "value": f"{incident['id']}:{target}",
                "action_id": ACTION_MOVE,
                "confirm": {
                    "title": {"type": "plain_text", "text": f"Move to {label}?"},
                    "text": {"type": "plain_text", "text": STAGE_HELP[target]},
                    "confirm": {"type": "plain_text", "text": "Move"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            }
        )
    return elements


def update_reply(*, text: str, next_update: str | None) -> tuple[str, list[dict]]:
    """A thread reply: the audience's rendered text (user text, escaped) and Keel's
    own italic promise of the next update."""
    body = escape(text)
    if next_update:
        body += f"\n_Next update by {escape(next_update)}_"
    return body, [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}]


# A section's mrkdwn text is limited to 3,000 characters.
SECTION_TEXT_MAX = 3_000


def personal_notice(*, text: str) -> tuple[str, list[dict]]:
    """A direct message to one person: the first line in bold, the rest as written."""
    subject, _, body = escape(text).partition("\n")
    shown = f"*{subject.strip()}*" + (f"\n{body.strip()}" if body.strip() else "")
    return escape(text)[:4_000], [
        {"type": "section", "text": {"type": "mrkdwn", "text": shown[:SECTION_TEXT_MAX]}}
    ]
