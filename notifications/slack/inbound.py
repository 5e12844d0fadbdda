"""Requests from Slack: signature verification and parsing. Pure functions.

Slack signs every request: ``X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}"))``. A request older than five
minutes is refused so a captured request cannot be replayed later.
"""

import hashlib
import hmac
import re
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs

from common.jsonguard import JSONInputError, parse_json
from common.validators import one_line
from incidents.lifecycle import ORDER
from incidents.models import TEXT_MAX, TITLE_MAX
from notifications.models import MESSAGE_MAX
from notifications.slack.blocks import ACTION_ACKNOWLEDGE, ACTION_MOVE

SIGNATURE_VERSION = "v0"
TOLERANCE_SECONDS = 300
MAX_FORM_FIELDS = 100
CHANNEL_NAME_MAX = 80


USAGE = "\n".join(
    [
        "*Keel* — `/incident` commands:",
        "• `/incident declare SEV2 Checkout is failing` — declare an incident",
        "• `/incident update 42 Rolled back, monitoring` — post a status update",
        "  options before the message: `to=cs,public` `public=investigating` "
        '`title="Checkout is slow"` `component="Checkout:degraded performance"` '
        "`if-resolved=reopen|new`",
        f"• `/incident stage 42 recover [note]` — move to a stage ({', '.join(ORDER)})",
        "• `/incident resolve 42` — mark recovered (move to recover)",
        "• `/incident help` — this text",
    ]
)


# ---- signatures -----------------------------------------------------------


def sign(*, secret: str, timestamp: str | int, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send for ``body``."""
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_problem(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> str | None:
    """Why the request is not authentic, or None when it is."""
    if not timestamp or not signature:
        return "Missing Slack signature headers."
    # Seconds since the epoch are ten digits; a longer "number" is refused before
    # int() (4,300 digits raise) or the float arithmetic below (OverflowError).
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "The Slack request timestamp is not a number."
    sent_at = int(timestamp)
    now = time.time() if now is None else now
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        return "The Slack request timestamp is outside the five-minute window."
    expected = sign(secret=secret, timestamp=sent_at, body=body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "The Slack signature does not match."
    return None


# ---- request bodies -------------------------------------------------------


class BadRequest(ValueError):
    """The body is not what Slack sends."""


def parse_form(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` → first value per key."""
    try:
        fields = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Unreadable form body: {exc}") from exc
    return {key: values[0] for key, values in fields.items()}


def dedupe_key(form_or_payload: dict, body: bytes) -> str:
    """Slack keeps ``trigger_id`` across its retries of one delivery; without one,
    the body itself is the same on every retry (only the signature headers change)."""
    trigger = str(form_or_payload.get("trigger_id") or "").strip()
    if trigger:
        return trigger[:255]
    return "sha256:" + hashlib.sha256(body).hexdigest()


# ---- the /incident command -----------------------------------------------


@dataclass(frozen=True)
class Command:
    """A parsed ``/incident`` command. ``action`` is declare, update, stage or resolve."""

    action: str
    incident_id: int | None = None
    severity: str = ""
    title: str = ""
    message: str = ""
    stage: str = ""
    note: str = ""
    # update options (``to=`` ``public=`` ``title=`` ``component=`` ``if-resolved=``)
    audiences: tuple = ()
    public_status: str = ""
    public_title: str = ""
    components: tuple = ()  # ((component, status), ...) in the order given
    public_resolved_action: str = ""

    def as_payload(self) -> dict:
        return {
            "action": self.action,
            "incident_id": self.incident_id,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "stage": self.stage,
            "note": self.note,
            "audiences": list(self.audiences),
            "public_status": self.public_status,
            "public_title": self.public_title,
            "components": [list(pair) for pair in self.components],
            "public_resolved_action": self.public_resolved_action,
        }

    @classmethod
    def from_payload(cls, data: dict) -> "Command":
        fields = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        fields["audiences"] = tuple(fields.get("audiences") or ())
        fields["components"] = tuple(tuple(pair) for pair in fields.get("components") or ())
        return cls(**fields)


@dataclass(frozen=True)
class Usage:
    """Show the usage text; ``problem`` says what was wrong with the input, if anything."""

    problem: str = ""

    @property
    def text(self) -> str:
        return f"{self.problem}\n\n{USAGE}" if self.problem else USAGE


_SEVERITY = re.compile(r"^sev\d{1,2}$", re.IGNORECASE)


def _incident_id(word: str) -> int | None:
    word = word.lstrip("#")
    if word.isascii() and word.isdigit() and 0 < int(word) < 2**63:
        return int(word)
    return None


_OPTION = re.compile(
    r'(?P<key>to|public|title|component|if-resolved)=(?:"(?P<quoted>[^"]*)"|“(?P<curly>[^”]*)”'
    r"|(?P<bare>\S+))(?:\s+|$)",
    re.IGNORECASE,
)
MAX_UPDATE_OPTIONS = 60


def _parse_update(incident_id: int, tail: str) -> Command | Usage:
    """``[options] message``; the options address audiences and the status page."""
    options: dict = {"audiences": (), "components": []}
    for _ in range(MAX_UPDATE_OPTIONS):
        match = _OPTION.match(tail)
        if match is None:
            break
        tail = tail[match.end() :]
        key = match["key"].lower()
        value = next(v for v in (match["quoted"], match["curly"], match["bare"]) if v is not None)
        value = value.strip()
        if key == "to":
            options["audiences"] = tuple(s.strip() for s in value.split(",") if s.strip())
        elif key == "public":
            options["public_status"] = value.lower()
        elif key == "title":
            if len(value) > TITLE_MAX:
                return Usage(f"The title is {len(value)} characters; the limit is {TITLE_MAX}.")
            options["public_title"] = value
        elif key == "if-resolved":
            options["public_resolved_action"] = value.lower()
        else:
            name, sep, status = value.rpartition(":")
            if not sep or not name.strip() or not status.strip() or len(value) > 200:
                return Usage(
                    f'Write a component as `component="Checkout:degraded performance"`, '
                    f"not `{value[:60]}`."
                )
            options["components"].append((name.strip(), status.strip()))
    tail = tail.strip()
    if not tail:
        return Usage("An update needs a message: `/incident update 42 Rolled back`.")
    if len(tail) > MESSAGE_MAX:
        return Usage(f"The update is {len(tail)} characters; the limit is {MESSAGE_MAX}.")
    options["components"] = tuple(options["components"])
    return Command("update", incident_id=incident_id, message=tail, **options)


def parse_command(text: str) -> Command | Usage:
    """``/incident`` text → a ``Command``, or ``Usage`` (help, or what was wrong)."""
    words = text.strip().split(maxsplit=1)
    if not words or words[0].lower() in {"help", "-h", "--help", "?"}:
        return Usage()
    verb = words[0].lower()
    rest = words[1].strip() if len(words) > 1 else ""

    if verb == "declare":
        parts = rest.split(maxsplit=1)
        if len(parts) < 2 or not _SEVERITY.match(parts[0]):
            return Usage("Declare needs a severity and a title: `/incident declare SEV2 Title`.")
        # A title is one line; Slack lets people type line breaks (shift+enter).
        title = one_line(parts[1])
        if len(title) > TITLE_MAX:
            return Usage(f"The title is {len(title)} characters; the limit is {TITLE_MAX}.")
        return Command("declare", severity=parts[0].upper(), title=title)

    if verb in {"update", "stage", "resolve"}:
        parts = rest.split(maxsplit=1)
        incident_id = _incident_id(parts[0]) if parts else None
        if incident_id is None:
            return Usage(f"`{verb}` needs an incident number, e.g. `/incident {verb} 42 ...`.")
        tail = parts[1].strip() if len(parts) > 1 else ""
        if verb == "update":
            return _parse_update(incident_id, tail)
        if verb == "resolve":
            if len(tail) > TEXT_MAX:
                return Usage(f"The note is {len(tail)} characters; the limit is {TEXT_MAX}.")
            return Command("resolve", incident_id=incident_id, stage="recover", note=tail)
        stage_and_note = tail.split(maxsplit=1)
        if not stage_and_note:
            return Usage(f"`stage` needs a stage: one of {', '.join(ORDER)}.")
        stage = stage_and_note[0].lower()
        if stage not in ORDER:
            return Usage(f"'{stage_and_note[0]}' is not a stage; stages are {', '.join(ORDER)}.")
        note = stage_and_note[1].strip() if len(stage_and_note) > 1 else ""
        if len(note) > TEXT_MAX:
            return Usage(f"The note is {len(note)} characters; the limit is {TEXT_MAX}.")
        return Command("stage", incident_id=incident_id, stage=stage, note=note)

    return Usage(f"Unknown command '{words[0][:50]}'.")


# ---- interactions (buttons on the announcement) --------------------------


@dataclass(frozen=True)
class Interaction:
    """One button click or select choice on an announcement."""

    action: str  # "acknowledge" or "move"
    incident_id: int
    stage: str = ""  # the target stage of a move, when the button named one

    def as_payload(self) -> dict:
        return {"action": self.action, "incident_id": self.incident_id, "stage": self.stage}


def parse_interaction_payload(form: dict[str, str]) -> dict:
    """The ``payload`` form field: Slack's interaction JSON."""
    raw = form.get("payload")
    if not raw:
        raise BadRequest("An interaction carries a 'payload' form field.")
    try:
        payload = parse_json(raw)
    except JSONInputError as exc:
        raise BadRequest(f"The interaction payload is refused: {exc.message}") from exc
    if not isinstance(payload, dict):
        raise BadRequest("The interaction payload is not an object.")
    return payload


def parse_action(payload: dict) -> Interaction | None:
    """The Keel action in a ``block_actions`` payload, or None (e.g. "Open in Keel")."""
    if payload.get("type") != "block_actions":
        return None
    for action in payload.get("actions") or []:
        if not isinstance(action, dict):
            continue
        action_id = action.get("action_id")
        if action_id not in {ACTION_ACKNOWLEDGE, ACTION_MOVE}:
            continue
        value = action.get("value")
        if value is None:
            value = (action.get("selected_option") or {}).get("value")
        # Move values are "<incident id>:<target stage>" so a stale button (or two
        # people clicking at once) cannot carry the incident two stages forward.
        incident_part, _, stage = str(value or "").partition(":")
        incident_id = _incident_id(incident_part)
        if incident_id is None or (stage and stage not in ORDER):
            return None
        if action_id == ACTION_ACKNOWLEDGE:
            return Interaction("acknowledge", incident_id)
        return Interaction("move", incident_id, stage=stage)
    return None


# ---- channel names --------------------------------------------------------


def channel_name(incident_id: int, title: str) -> str:
    """``inc-42-checkout-is-failing``: lowercase ASCII letters, digits and hyphens,
    at most 80 characters (Slack's rules; runs of anything else become one hyphen)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    prefix = f"inc-{incident_id}"
    room = CHANNEL_NAME_MAX - len(prefix) - 1
    slug = slug[:room].rstrip("-") if room > 0 else ""
    return f"{prefix}-{slug}" if slug else prefix
