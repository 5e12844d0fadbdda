"""Block Kit payloads for incident announcements and thread replies. Pure functions."""

STAGE_EMOJI = {
    "detect": ":rotating_light:",
    "propagate": ":loudspeaker:",
    "judge": ":scales:",
    "recover": ":hammer_and_wrench:",
    "analyze": ":mag:",
    "share": ":memo:",
    "retrospect": ":white_check_mark:",
}


def announcement(*, incident: dict) -> tuple[str, list[dict]]:
    """The root message: title, severity, stage, commander, links. Updated in place."""
    closed = " (closed)" if incident["closed"] else ""
    text = (
        f"{incident['severity']} · {incident['stage_label']}{closed} — "
        f"#{incident['id']} {incident['title']}"
    )
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{incident['severity']}"},
        {
            "type": "mrkdwn",
            "text": f"*Stage*\n{STAGE_EMOJI.get(incident['stage'], '')} "
            f"{incident['stage_label']}{closed}",
        },
        {"type": "mrkdwn", "text": f"*Commander*\n{incident['commander'] or '—'}"},
        {"type": "mrkdwn", "text": f"*Services*\n{incident['services'] or '—'}"},
    ]
    blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"#{incident['id']} {incident['title']}"[:150]},
        },
        {"type": "section", "fields": fields},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in Keel"},
                    "url": incident["url"],
                    "action_id": "open_incident",
                }
            ],
        },
    ]
    return text, blocks


def update_reply(*, text: str, next_update: str | None) -> tuple[str, list[dict]]:
    body = text if not next_update else f"{text}\n_Next update by {next_update}_"
    return body, [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}]
