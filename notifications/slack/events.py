"""Slack Events API callbacks: what Keel acts on, parsed. Pure functions.

Slack posts JSON (signed like every Slack request, ``inbound.signature_problem``):
``url_verification`` once when the Request URL is saved (answer its
``challenge``), then ``event_callback`` envelopes with a unique ``event_id``
that a retried delivery repeats. Keel acts on three inner events:

* ``reaction_added`` with the capture reaction (``KEEL_SLACK_CAPTURE_REACTION``)
  on a message: add that message to its incident's timeline;
* ``message`` with subtype ``message_changed``: a captured message was edited;
* ``message`` with subtype ``message_deleted``: a captured message was deleted.
"""

import re
from dataclasses import dataclass

from common.jsonguard import JSONInputError, parse_json
from notifications.slack.inbound import BadRequest

# Slack ids are short upper-case alphanumerics; ts are "seconds.micros".
_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CHALLENGE_MAX = 200


@dataclass(frozen=True)
class Challenge:
    """``url_verification``: echo ``value``."""

    value: str


@dataclass(frozen=True)
class MessageEvent:
    """One event Keel acts on, about the message ``message_ts`` in ``channel_id``."""

    event_id: str
    team_id: str
    kind: str  # a SlackEvent.Kind value
    channel_id: str
    message_ts: str
    slack_user_id: str = ""  # who reacted (reaction_added)
    text: str = ""  # the new text (message_changed)
    revised_ts: str = ""  # when it was edited or deleted

    def as_payload(self) -> dict:
        return {"text": self.text, "revised_ts": self.revised_ts}


def parse_body(body: bytes) -> dict:
    try:
        payload = parse_json(body)
    except JSONInputError as exc:
        raise BadRequest(f"The event body is refused: {exc.message}") from exc
    if not isinstance(payload, dict):
        raise BadRequest("The event body is not a JSON object.")
    return payload


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def parse_callback(payload: dict, *, reaction: str) -> Challenge | MessageEvent | None:
    """The challenge to echo, the event to act on, or None (answered and dropped).

    Raises ``BadRequest`` for a ``url_verification`` without a usable challenge."""
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = _text(payload.get("challenge"))
        if not challenge or len(challenge) > CHALLENGE_MAX or not challenge.isprintable():
            raise BadRequest("A url_verification carries a printable 'challenge'.")
        return Challenge(challenge)
    if kind != "event_callback":
        return None
    event_id = _text(payload.get("event_id"))
    team_id = _text(payload.get("team_id"))
    event = _dict(payload.get("event"))
    if not _EVENT_ID.match(event_id) or not _ID.match(team_id):
        return None
    common = {"event_id": event_id, "team_id": team_id}

    if event.get("type") == "reaction_added":
        item = _dict(event.get("item"))
        channel, ts, user = (
            _text(item.get("channel")),
            _text(item.get("ts")),
            _text(event.get("user")),
        )
        if (
            _text(event.get("reaction")) != reaction
            or item.get("type") != "message"
            or not _ID.match(channel)
            or not _TS.match(ts)
            or not _ID.match(user)
        ):
            return None
        return MessageEvent(
            kind="reaction_added", channel_id=channel, message_ts=ts, slack_user_id=user, **common
        )

    if event.get("type") != "message":
        return None
    channel = _text(event.get("channel"))
    if not _ID.match(channel):
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        message = _dict(event.get("message"))
        ts = _text(message.get("ts"))
        edited = _text(_dict(message.get("edited")).get("ts")) or _text(event.get("event_ts"))
        if not _TS.match(ts) or not _TS.match(edited):
            return None
        return MessageEvent(
            kind="message_changed",
            channel_id=channel,
            message_ts=ts,
            text=_text(message.get("text")),
            revised_ts=edited,
            **common,
        )
    if subtype == "message_deleted":
        ts = _text(event.get("deleted_ts"))
        deleted = _text(event.get("event_ts")) or _text(event.get("ts"))
        if not _TS.match(ts) or not _TS.match(deleted):
            return None
        return MessageEvent(
            kind="message_deleted", channel_id=channel, message_ts=ts, revised_ts=deleted, **common
        )
    return None
