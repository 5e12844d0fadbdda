"""Slack's requests to Keel: the ``/incident`` slash command, the buttons on
the announcement and the Events API (the conversation capture). Slack wants an
answer within three seconds, so these views only verify the signature, parse,
record the request and enqueue it; a worker acts (and answers through
``response_url``).

Plain Django views: Slack signs the raw body (no session, no CSRF token), and
the body size is capped by ``RequestBodyLimitMiddleware`` before it is read.
"""

import logging
from typing import NamedTuple

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from common import ratelimit
from notifications.models import SlackRequest
from notifications.slack import blocks, commands, events, inbound
from notifications.slack import credentials as slack_credentials
from notifications.slack.capture_records import slack_event_receive

logger = logging.getLogger(__name__)

# Per client address, before the signature is even checked: Slack sends a request
# per human action, so a flood is not Slack (common.ratelimit; 429 + Retry-After).
slack_rate_limited = ratelimit.limit_view(
    "slack",
    limit=lambda: settings.KEEL_SLACK_RATE_LIMIT,
    window=lambda: settings.KEEL_SLACK_RATE_WINDOW_SECONDS,
)

WORKING = "Working on it…"
ALREADY = "Already on it: Slack sent this request again."


def _ephemeral(text: str) -> JsonResponse:
    # Usage and replies can quote what the user typed: Slack-escaped, shown literally.
    return JsonResponse({"response_type": "ephemeral", "text": blocks.escape(text)})


def _unverified(request: HttpRequest) -> HttpResponse | None:
    """A response refusing the request, or None when Slack signed it."""
    secret = slack_credentials.signing_secret()
    if not secret:
        return JsonResponse(
            {
                "detail": "SLACK_SIGNING_SECRET is not set (nor a signing secret in Settings → "
                "Slack): Keel cannot verify Slack requests, so it accepts none.",
                "code": "slack_not_configured",
            },
            status=503,
        )
    problem = inbound.signature_problem(
        secret=secret,
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
        body=request.body,
    )
    if problem:
        logger.warning("Slack request refused: %s", problem)
        return JsonResponse({"detail": problem, "code": "bad_signature"}, status=401)
    return None


def _retry_num(request: HttpRequest) -> int:
    try:
        return max(int(request.headers.get("X-Slack-Retry-Num") or 0), 0)
    except ValueError:
        return 0


def _object(payload: dict, key: str) -> dict:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"detail": message, "code": "invalid"}, status=400)


def _command_record(request: HttpRequest, form: dict, parsed) -> tuple[SlackRequest, bool]:
    """The command recorded once (a retry by Slack finds the first record) for a
    worker: (the record, whether this request made it)."""
    return commands.slack_request_receive(
        kind=SlackRequest.Kind.COMMAND,
        team_id=form["team_id"],
        dedupe_key=inbound.dedupe_key(form, request.body),
        slack_user_id=form["user_id"],
        payload={
            "command": parsed.as_payload(),
            "response_url": form.get("response_url", ""),
            "channel_id": form.get("channel_id", ""),
        },
        retry_num=_retry_num(request),
    )


def _command_reply(slack_request: SlackRequest, created: bool) -> str:
    """What the user sees at once: working on it, already on it, or why it failed."""
    if not created:
        return ALREADY
    if slack_request.status == SlackRequest.Status.FAILED:
        return slack_request.reply
    return WORKING


@csrf_exempt
@slack_rate_limited
@require_POST
def slack_command(request: HttpRequest) -> HttpResponse:
    """``/incident ...``: usage text at once, or "working on it" and a task."""
    refused = _unverified(request)
    if refused is not None:
        return refused
    try:
        form = inbound.parse_form(request.body)
    except inbound.BadRequest as exc:
        return _bad_request(str(exc))
    parsed = inbound.parse_command(form.get("text", ""))
    if isinstance(parsed, inbound.Usage):
        return _ephemeral(parsed.text)
    if not form.get("team_id") or not form.get("user_id"):
        return _bad_request("A slash command names its team_id and user_id.")
    slack_request, created = _command_record(request, form, parsed)
    return _ephemeral(_command_reply(slack_request, created))


class _Clicker(NamedTuple):
    """Who clicked an interaction's button, and where."""

    team_id: str
    user_id: str
    channel_id: str


def _clicker(payload: dict) -> _Clicker:
    user, team, channel = (_object(payload, key) for key in ("user", "team", "channel"))
    return _Clicker(
        team_id=str(team.get("id") or user.get("team_id") or ""),
        user_id=str(user.get("id") or ""),
        channel_id=str(channel.get("id") or ""),
    )


def _interaction_record(request: HttpRequest, payload: dict, interaction, by: _Clicker) -> None:
    """The click recorded once (a retry by Slack finds the first record) for a worker."""
    commands.slack_request_receive(
        kind=SlackRequest.Kind.INTERACTION,
        team_id=by.team_id,
        dedupe_key=inbound.dedupe_key(payload, request.body),
        slack_user_id=by.user_id,
        payload={
            "interaction": interaction.as_payload(),
            "response_url": str(payload.get("response_url") or ""),
            "channel_id": by.channel_id,
        },
        retry_num=_retry_num(request),
    )


@csrf_exempt
@slack_rate_limited
@require_POST
def slack_interaction(request: HttpRequest) -> HttpResponse:
    """A button on the announcement. Slack ignores the body of a ``block_actions``
    answer, so the acknowledgement is an empty 200; the worker answers later."""
    refused = _unverified(request)
    if refused is not None:
        return refused
    try:
        payload = inbound.parse_interaction_payload(inbound.parse_form(request.body))
    except inbound.BadRequest as exc:
        return _bad_request(str(exc))
    interaction = inbound.parse_action(payload)
    if interaction is None:
        return HttpResponse(status=200)  # e.g. "Open in Keel": a link, nothing to do
    clicker = _clicker(payload)
    if not clicker.team_id or not clicker.user_id:
        return _bad_request("An interaction names its team and user.")
    _interaction_record(request, payload, interaction, clicker)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def slack_events(request: HttpRequest) -> HttpResponse:
    """Events API: the URL verification challenge, and the callbacks Keel acts on
    (``notifications.slack.events``) recorded once per ``event_id`` and handled by
    a worker. Slack wants a 2xx within three seconds, so nothing here calls Slack.

    Not rate limited per address like the commands: every event comes from Slack's
    own servers, a busy workspace sends many, and a 429 makes Slack disable the
    subscription. The signature is checked before anything else is read."""
    refused = _unverified(request)
    if refused is not None:
        return refused
    try:
        parsed = events.parse_callback(
            events.parse_body(request.body), reaction=settings.KEEL_SLACK_CAPTURE_REACTION
        )
    except inbound.BadRequest as exc:
        return _bad_request(str(exc))
    if isinstance(parsed, events.Challenge):
        return JsonResponse({"challenge": parsed.value})
    if parsed is not None:
        slack_event_receive(event=parsed, retry_num=_retry_num(request))
    return HttpResponse(status=200)
