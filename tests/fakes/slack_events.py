"""Events API callbacks as Slack posts them to Keel: JSON envelopes
(``event_callback`` with a unique ``event_id``) for a reaction, an edit and a
deletion, signed as Slack signs them (``tests.fakes.slack.slack_signature``)."""

import json
import time

from tests.fakes.slack import SIGNING_SECRET, TEAM_ID, slack_signature


def signed_json_post(client, path: str, payload: dict, *, secret=SIGNING_SECRET, **headers):
    """POST a JSON body through Django's test client, signed as Slack signs it."""
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    extra = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": slack_signature(secret=secret, timestamp=timestamp, body=body),
    }
    extra.update(headers)
    return client.post(path, data=body, content_type="application/json", **extra)


def _envelope(event: dict, event_id: str) -> dict:
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0KEEL",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UKEEL", "is_bot": True}],
    }


def _event_id() -> str:
    return f"Ev{time.time_ns():X}"[:20]


def reaction_added(
    *, channel: str, ts: str, user: str, reaction: str = "pushpin", item_user: str = "", event_id=""
) -> dict:
    """What Slack posts when ``user`` reacts to the message ``ts`` in ``channel``."""
    return _envelope(
        {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": f"{time.time():.6f}",
        },
        event_id or _event_id(),
    )


def message_changed(*, channel: str, message: dict, event_id: str = "") -> dict:
    """What Slack posts when a message is edited (``message`` as it is now)."""
    return _envelope(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "message": {k: v for k, v in message.items() if k != "metadata"},
            "previous_message": {"type": "message", "ts": message["ts"], "text": "(before)"},
            "event_ts": (message.get("edited") or {}).get("ts") or f"{time.time():.6f}",
            "ts": f"{time.time():.6f}",
        },
        event_id or _event_id(),
    )


def message_deleted(*, channel: str, ts: str, event_id: str = "") -> dict:
    """What Slack posts when the message ``ts`` is deleted."""
    now = f"{time.time():.6f}"
    return _envelope(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel,
            "deleted_ts": ts,
            "previous_message": {"type": "message", "ts": ts, "text": "(before)"},
            "event_ts": now,
            "ts": now,
        },
        event_id or _event_id(),
    )
