"""The only importer of ``slack_sdk.WebClient``. Every call has a timeout and
returns a typed ``SendResult``; Slack errors are classified, never raised."""

import time
from collections.abc import Callable, Iterator

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from notifications.channels.base import Outcome, SendResult, parse_retry_after
from notifications.slack import credentials as slack_credentials

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
# Lookups read pages of this size: under every documented maximum
# (conversations.history 999, conversations.replies 1000) and what Slack's
# pagination guide recommends.
LOOKUP_PAGE = 200
# 50 pages = 10,000 messages since the earlier attempt: far more than an
# incidents channel sees meanwhile; past it the attempt fails visibly instead of
# posting a second copy blindly.
LOOKUP_MAX_PAGES = 50


class SlackFailure(Exception):
    def __init__(self, result: SendResult):
        super().__init__(result.error)
        self.result = result


def make_client(token: str | None = None) -> WebClient:
    """A client with ``token``, or the token in use (``notifications.slack.credentials``)."""
    # No SDK-level retries: a retry after an ambiguous failure must reconcile first.
    return WebClient(
        token=token or slack_credentials.bot_token(),
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


def _metadata(
    delivery_id: str, incident_id: int, part: str, destination_id: int | None = None
) -> dict:
    payload = {"delivery_id": delivery_id, "incident_id": incident_id, "part": part}
    if destination_id is not None:
        payload["destination_id"] = destination_id
    return {"event_type": METADATA_EVENT, "event_payload": payload}


def _payload(message: dict) -> dict:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return {}
    return metadata.get("event_payload") or {}


def _find_by_delivery(messages: list[dict], delivery_id: str, part: str) -> str | None:
    for message in messages:
        payload = _payload(message)
        if payload.get("delivery_id") == delivery_id and payload.get("part") == part:
            return message.get("ts")
    return None


def _find_root(messages: list[dict], incident_id: int, destination_id: int) -> str | None:
    for message in messages:
        payload = _payload(message)
        if (
            payload.get("part") == "root"
            and payload.get("incident_id") == incident_id
            and payload.get("destination_id") == destination_id
        ):
            return message.get("ts")
    return None


class SlackChannel:
    """Posts, replies and updates for one delivery, reconciling before re-sending.

    With a ``deadline`` (a ``time.monotonic()`` value) no call starts after it and
    none may outlast it: each call's timeout is cut to the time left. The outbox
    sets it inside the delivery's lease, so once the lease is over this attempt
    can no longer reach Slack and another worker may safely take over.
    """

    def __init__(self, client: WebClient | None = None, *, deadline: float | None = None):
        self.client = client or make_client()
        self.deadline = deadline
        self.timeout = self.client.timeout

    def _call(self, method: Callable, **kwargs):
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                # Nothing was sent: a plain retry, and the next attempt carries on.
                raise SlackFailure(
                    SendResult.retry(
                        f"Slack attempt ran out of time before {method.__name__}; "
                        "the next attempt carries on"
                    )
                )
            self.client.timeout = min(self.timeout, left)
        return call(method, **kwargs)

    def _pages(self, method: Callable, **kwargs) -> Iterator[list[dict]]:
        """The messages of each page, following ``next_cursor`` to the end."""
        cursor = None
        for _ in range(LOOKUP_MAX_PAGES):
            response = self._call(
                method, include_all_metadata=True, limit=LOOKUP_PAGE, cursor=cursor, **kwargs
            )
            yield response.get("messages", [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return
        raise SlackFailure(
            SendResult.retry(
                f"Slack {method.__name__}: the earlier post was not in the last "
                f"{LOOKUP_MAX_PAGES * LOOKUP_PAGE} messages; not posting a second copy blindly"
            )
        )

    def resolve_channel(self, target: str) -> str:
        """Channel ids pass through; ``#name`` is looked up (history calls need ids)."""
        if not target.startswith("#"):
            return target
        name = target[1:]
        cursor = None
        while True:
            response = self._call(
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

    def auth_test(self) -> dict:
        """``auth.test``: the ``team``, bot ``user`` name and ``user_id`` of the token."""
        response = self._call(self.client.auth_test)
        return {key: str(response.get(key, "")) for key in ("team", "user", "user_id")}

    def channel_list(self, *, max_pages: int) -> tuple[list[dict], bool]:
        """The channels the bot can post in, ``[{id, name}]`` by name, following
        ``next_cursor`` for at most ``max_pages`` pages; True when more were left."""
        channels: dict[str, str] = {}
        cursor = None
        for _ in range(max_pages):
            response = self._call(
                self.client.conversations_list,
                exclude_archived=True,
                limit=LOOKUP_PAGE,
                types="public_channel,private_channel",
                cursor=cursor,
            )
            for channel in response.get("channels", []):
                channels[str(channel.get("id", ""))] = str(channel.get("name", ""))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        listed = [{"id": cid, "name": name} for cid, name in channels.items() if cid]
        return sorted(listed, key=lambda c: c["name"]), bool(cursor)

    def find_posted(self, *, channel: str, delivery_id: str, since: float, thread_ts: str | None):
        """The ts of a message an earlier, ambiguous attempt may have posted, or None.
        Pages through the whole thread (or the channel since ``since``, less a
        minute for clock skew)."""
        part = "reply" if thread_ts else "root"
        oldest = f"{since - 60:.6f}"
        if thread_ts:
            pages = self._pages(
                self.client.conversations_replies, channel=channel, ts=thread_ts, oldest=oldest
            )
        else:
            pages = self._pages(self.client.conversations_history, channel=channel, oldest=oldest)
        for messages in pages:
            ts = _find_by_delivery(messages, delivery_id, part)
            if ts is not None:
                return ts
        return None

    def find_root(
        self, *, channel: str, incident_id: int, destination_id: int, since: float
    ) -> str | None:
        """The ts of this incident's announcement for this destination posted since
        ``since`` (less a minute for clock skew) by any delivery, or None."""
        pages = self._pages(
            self.client.conversations_history, channel=channel, oldest=f"{since - 60:.6f}"
        )
        for messages in pages:
            ts = _find_root(messages, incident_id, destination_id)
            if ts is not None:
                return ts
        return None

    def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[dict],
        delivery_id: str,
        incident_id: int,
        thread_ts: str | None = None,
        destination_id: int | None = None,
    ) -> str:
        part = "reply" if thread_ts else "root"
        response = self._call(
            self.client.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            metadata=_metadata(delivery_id, incident_id, part, destination_id),
            unfurl_links=False,
        )
        return response["ts"]

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._call(self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)

    def message(self, *, channel: str, ts: str) -> dict | None:
        """The message ``ts`` of ``channel`` as Slack has it now, or None when it is
        gone. A channel message is the one ``conversations.history`` returns for
        ``latest = oldest = ts`` inclusive; a thread reply is not in the channel's
        history, so its thread is read (``conversations.replies`` from ``ts``)."""
        response = self._call(
            self.client.conversations_history,
            channel=channel,
            latest=ts,
            oldest=ts,
            inclusive=True,
            limit=1,
        )
        for message in response.get("messages", []):
            if message.get("ts") == ts:
                return message
        try:
            for messages in self._pages(
                self.client.conversations_replies, channel=channel, ts=ts, oldest=ts, inclusive=True
            ):
                for message in messages:
                    if message.get("ts") == ts:
                        return message
        except SlackFailure as failure:
            if error_code(failure) in {"thread_not_found", "message_not_found"}:
                return None
            raise
        return None

    def user_profile(self, user_id: str) -> dict:
        """``users.info``: the user, ``{}`` when Slack knows no such user."""
        try:
            response = self._call(self.client.users_info, user=user_id)
        except SlackFailure as failure:
            if error_code(failure) == "user_not_found":
                return {}
            raise
        return response.get("user") or {}

    def user_email(self, user_id: str) -> str | None:
        """As ``SlackDirectory.user_email``, within this channel's deadline."""
        user = self.user_profile(user_id)
        if not user or user.get("deleted") or user.get("is_bot"):
            return None
        return ((user.get("profile") or {}).get("email") or "").strip() or None

    def user_id_by_email(self, email: str) -> str | None:
        """The Slack user id of ``email`` (``users.lookupByEmail``, needs
        ``users:read.email``); None when Slack answers ``users_not_found``."""
        try:
            response = self._call(self.client.users_lookupByEmail, email=email)
        except SlackFailure as failure:
            if error_code(failure) == "users_not_found":
                return None
            raise
        return (response.get("user") or {}).get("id")

    def open_dm(self, *, user_id: str) -> str:
        """The id of the bot's direct-message channel with ``user_id``
        (``conversations.open``: opens it, or returns the one already open)."""
        response = self._call(self.client.conversations_open, users=user_id)
        return response["channel"]["id"]


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
