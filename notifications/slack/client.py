"""The only importer of ``slack_sdk.WebClient``. Every call has a timeout and
returns a typed ``SendResult``; Slack errors are classified, never raised."""

from collections.abc import Callable

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from notifications.channels.base import Outcome, SendResult, parse_retry_after

METADATA_EVENT = "keel_delivery"
GONE_ERRORS = {"channel_not_found", "is_archived", "not_in_channel", "channel_is_archived"}
CREDENTIAL_ERRORS = {
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "not_authed",
    "token_expired",
    "missing_scope",
}
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class SlackFailure(Exception):
    def __init__(self, result: SendResult):
        super().__init__(result.error)
        self.result = result


def make_client() -> WebClient:
    # No SDK-level retries: a retry after an ambiguous failure must reconcile first.
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_BASE_URL,
        timeout=settings.KEEL_OUTBOUND_TIMEOUT_SECONDS,
        retry_handlers=[],
    )


def classify(exc: Exception) -> SendResult:
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = str(response.get("error", "")) if response is not None else ""
        status = getattr(response, "status_code", 0) or 0
        message = f"Slack {error or 'HTTP ' + str(status)}"
        if status == 429 or error == "ratelimited":
            headers = getattr(response, "headers", {}) or {}
            retry_after = headers.get("Retry-After") or headers.get("retry-after")
            return SendResult.retry(message, parse_retry_after(retry_after) or 30.0)
        if error in GONE_ERRORS:
            return SendResult(Outcome.GONE, error=message)
        if error in CREDENTIAL_ERRORS:
            return SendResult(Outcome.CREDENTIALS, error=message)
        if status >= 500 or error in TRANSIENT_ERRORS:
            return SendResult.retry(message)
        return SendResult(Outcome.PERMANENT, error=message)
    return SendResult.ambiguous(f"{type(exc).__name__}: {exc}"[:500])


def call(method: Callable, **kwargs):
    """Invoke a WebClient method; raise ``SlackFailure`` carrying the classified result."""
    try:
        return method(**kwargs)
    except Exception as exc:  # network errors and SlackApiError alike become typed results
        raise SlackFailure(classify(exc)) from exc


def _metadata(delivery_id: str, incident_id: int, part: str) -> dict:
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"delivery_id": delivery_id, "incident_id": incident_id, "part": part},
    }


def _find_by_delivery(messages: list[dict], delivery_id: str, part: str) -> str | None:
    for message in messages:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("delivery_id") == delivery_id and payload.get("part") == part:
            return message.get("ts")
    return None


class SlackChannel:
    """Posts, replies and updates for one delivery, reconciling before re-sending."""

    def __init__(self, client: WebClient | None = None):
        self.client = client or make_client()

    def resolve_channel(self, target: str) -> str:
        """Channel ids pass through; ``#name`` is looked up (history calls need ids)."""
        if not target.startswith("#"):
            return target
        name = target[1:]
        cursor = None
        while True:
            response = call(
                self.client.conversations_list,
                exclude_archived=True,
                limit=1000,
                types="public_channel,private_channel",
                cursor=cursor,
            )
            for channel in response.get("channels", []):
                if channel.get("name") == name:
                    return channel["id"]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise SlackFailure(
                    SendResult(Outcome.GONE, error=f"Slack channel {target} not found")
                )

    def find_posted(self, *, channel: str, delivery_id: str, since: float, thread_ts: str | None):
        """The ts of a message an earlier, ambiguous attempt may have posted, or None."""
        if thread_ts:
            response = call(
                self.client.conversations_replies,
                channel=channel,
                ts=thread_ts,
                include_all_metadata=True,
                limit=200,
            )
        else:
            response = call(
                self.client.conversations_history,
                channel=channel,
                oldest=f"{since - 60:.6f}",
                include_all_metadata=True,
                limit=200,
            )
        part = "reply" if thread_ts else "root"
        return _find_by_delivery(response.get("messages", []), delivery_id, part)

    def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[dict],
        delivery_id: str,
        incident_id: int,
        thread_ts: str | None = None,
    ) -> str:
        response = call(
            self.client.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            metadata=_metadata(delivery_id, incident_id, "reply" if thread_ts else "root"),
            unfurl_links=False,
        )
        return response["ts"]

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)


# ---- Slack inbound: users, ephemeral answers, incident channels ----------


def error_code(failure: SlackFailure) -> str:
    """Slack's ``error`` string behind a ``SlackFailure`` ("" for network errors)."""
    cause = failure.__cause__
    if isinstance(cause, SlackApiError) and cause.response is not None:
        return str(cause.response.get("error", ""))
    return ""


class SlackDirectory:
    """Users, ephemeral answers and per-incident channels. Same client, timeout and
    error classification as ``SlackChannel``."""

    def __init__(self, client: WebClient | None = None):
        self.client = client or make_client()

    def user_email(self, user_id: str) -> str | None:
        """The email on the Slack user's profile (needs ``users:read.email``), or None."""
        response = call(self.client.users_info, user=user_id)
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None
        return ((user.get("profile") or {}).get("email") or "").strip() or None

    def user_id_by_email(self, email: str) -> str | None:
        try:
            response = call(self.client.users_lookupByEmail, email=email)
        except SlackFailure as failure:
            if error_code(failure) == "users_not_found":
                return None
            raise
        return (response.get("user") or {}).get("id")

    def post_ephemeral(self, *, channel: str, user: str, text: str) -> None:
        call(self.client.chat_postEphemeral, channel=channel, user=user, text=text)

    def create_channel(self, *, name: str, private: bool) -> str:
        """Create ``name``; when it exists already (``name_taken``, e.g. an earlier
        attempt created it but its answer was lost) look it up instead."""
        try:
            response = call(self.client.conversations_create, name=name, is_private=private)
        except SlackFailure as failure:
            if error_code(failure) != "name_taken":
                raise
            return SlackChannel(self.client).resolve_channel(f"#{name}")
        return response["channel"]["id"]

    def invite(self, *, channel: str, user_id: str) -> bool:
        """Invite one user (one call each, so one bad id cannot block the others).
        True when the user is in the channel now; False when Slack cannot invite them."""
        try:
            call(self.client.conversations_invite, channel=channel, users=user_id)
        except SlackFailure as failure:
            code = error_code(failure)
            if code == "already_in_channel":
                return True
            if code in {"user_not_found", "cant_invite_self", "user_is_restricted"}:
                return False
            raise
        return True
