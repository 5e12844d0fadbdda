"""A local fake of the Slack Web API for slack-sdk's ``base_url``.

It keeps channels and messages (with their metadata) in memory, records every
call, and plays scripted faults per method: an HTTP status (500, 429 with
Retry-After), a Slack error (``invalid_auth``, ``channel_not_found``), a hang
longer than the client's timeout, or "post, then hang" (the ambiguous case:
Slack stored the message but the client never heard back).

Reading a channel or a thread pages like Slack does (``conversations.history``
newest first, ``conversations.replies`` oldest first, ``limit`` defaulting and
capped as Slack documents it, ``has_more`` + ``response_metadata.next_cursor``),
answers ``invalid_limit`` to a ``limit`` Slack would refuse, and leaves message
metadata out unless ``include_all_metadata`` is asked for.

Messages people write carry their author (``user``) and, once edited, ``edited``
(``edit_message``); ``delete_message`` removes one, after which reading it finds
nothing (``conversations.replies`` answers ``thread_not_found``), as in Slack.

For Slack inbound it also knows users (``users.info``, ``users.lookupByEmail``),
channel members (``conversations.invite``), ephemeral messages, direct messages
(``conversations.open`` gives the bot's DM channel with a user, the same one on
every call; ``dms(user_id)`` reads it), and refuses
channel names Slack would refuse (``name_taken``, ``invalid_name_specials``).
``ResponseUrlReceiver`` stands in for the ``response_url`` Slack hands out.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

# Slack's documented page sizes (docs.slack.dev/reference/methods/...):
# conversations.history ``limit`` default 100, "Maximum of 999";
# conversations.replies ``limit`` default 1000 (no larger page is served).
# (Apps distributed commercially outside the Marketplace get 15 for both since
# 2025; Keel is an internal app, which keeps these.)
PAGE_LIMITS = {
    "conversations.history": (100, 999),
    "conversations.replies": (1000, 1000),
    "conversations.list": (100, 1000),
}


def _truthy(value) -> bool:
    return value is True or str(value).lower() in {"1", "true"}


def _page_limit(method: str, args: dict) -> int | None:
    """The page size Slack would serve, or None for a ``limit`` it refuses."""
    default, maximum = PAGE_LIMITS[method]
    raw = args.get("limit")
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        return None
    if limit == 0:
        return default
    if limit < 0 or limit > maximum:
        return None
    return limit


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _cursor_ts(cursor: str) -> str | None:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.removeprefix("next_ts:") if decoded.startswith("next_ts:") else None


def _in_window(message: dict, args: dict) -> bool:
    ts = float(message["ts"])
    inclusive = _truthy(args.get("inclusive"))
    oldest = float(args.get("oldest") or 0)
    latest = float(args["latest"]) if args.get("latest") else None
    if ts < oldest or (ts == oldest and not inclusive and args.get("oldest")):
        return False
    return latest is None or ts < latest or (ts == latest and inclusive)


def _paged(method: str, args: dict, found: list[dict]) -> dict:
    """One page of ``found`` (already in Slack's order) as Slack answers it."""
    limit = _page_limit(method, args)
    if limit is None:
        return {"ok": False, "error": "invalid_limit"}
    start = 0
    if args.get("cursor"):
        ts = _cursor_ts(str(args["cursor"]))
        start = next((i for i, m in enumerate(found) if m["ts"] == ts), None)
        if start is None:
            return {"ok": False, "error": "invalid_cursor"}
    page = found[start : start + limit]
    more = start + limit < len(found)
    if not _truthy(args.get("include_all_metadata")):
        page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": _cursor(found[start + limit]["ts"]) if more else ""},
    }


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    hang_seconds: float = 0.0
    apply_then_hang: bool = False


@dataclass
class Call:
    method: str
    args: dict
    at: float
    token: str = ""  # the bearer token the call carried


@dataclass
class FakeSlack:
    channels: dict[str, str] = field(default_factory=lambda: {"C0INCIDENTS": "incidents"})
    messages: dict[str, list[dict]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    private_channels: set[str] = field(default_factory=set)
    ephemerals: list[dict] = field(default_factory=list)
    ims: dict[str, str] = field(default_factory=dict)  # user id → DM channel id
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: float = field(default_factory=time.time)

    # ---- what tests use -------------------------------------------------
    def fail_next(self, method: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(method, []).extend(faults)

    def fail_always(self, method: str, fault: Fault, times: int = 1000) -> None:
        self.fail_next(method, *([fault] * times))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def posted(self, channel: str = "C0INCIDENTS") -> list[dict]:
        with self.lock:
            return list(self.messages.get(channel, []))

    def posted_for_delivery(self, delivery_id: str) -> list[dict]:
        return [
            m
            for channel in list(self.messages)
            for m in self.posted(channel)
            if (m.get("metadata") or {}).get("event_payload", {}).get("delivery_id") == delivery_id
        ]

    def roots(self, channel: str = "C0INCIDENTS") -> list[dict]:
        return [m for m in self.posted(channel) if not m.get("thread_ts")]

    def thread(self, root_ts: str, channel: str = "C0INCIDENTS") -> list[dict]:
        """The replies in the thread of ``root_ts``, oldest first."""
        return [m for m in self.posted(channel) if m.get("thread_ts") == root_ts]

    def add_message(
        self,
        text: str,
        *,
        channel: str = "C0INCIDENTS",
        thread_ts: str | None = None,
        user: str | None = None,
        at: float | None = None,
    ) -> dict:
        """A message someone else (a person, another app) wrote, without Keel's
        metadata; ``user`` is its author's id, ``at`` its time (default: now)."""
        ts = f"{at:.6f}" if at is not None else self._next_ts()
        message = {"ts": ts, "text": text, "thread_ts": thread_ts, "metadata": None}
        if user:
            message.update(type="message", user=user)
        with self.lock:
            self.messages.setdefault(channel, []).append(message)
            self.messages[channel].sort(key=lambda m: float(m["ts"]))
        return message

    def edit_message(self, ts: str, text: str, *, channel: str = "C0INCIDENTS") -> dict:
        """Someone edited their message: new text, and ``edited`` as Slack marks it."""
        edited_ts = self._next_ts()
        with self.lock:
            message = next(m for m in self.messages[channel] if m["ts"] == ts)
            message.update(text=text, edited={"user": message.get("user"), "ts": edited_ts})
            return dict(message)

    def delete_message(self, ts: str, *, channel: str = "C0INCIDENTS") -> None:
        with self.lock:
            self.messages[channel] = [m for m in self.messages[channel] if m["ts"] != ts]

    def add_user(self, user_id: str, email: str | None, **fields) -> dict:
        """A Slack workspace member; ``email=None`` as without users:read.email."""
        profile = {"real_name": fields.pop("real_name", user_id)}
        if email is not None:
            profile["email"] = email
        user = {"id": user_id, "name": user_id.lower(), "deleted": False, "profile": profile}
        user.update(fields)
        with self.lock:
            self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str) -> None:
        with self.lock:
            self.channels[channel_id] = name

    def channel_named(self, name: str) -> str | None:
        with self.lock:
            return next((cid for cid, n in self.channels.items() if n == name), None)

    def dms(self, user_id: str) -> list[dict]:
        """The messages posted in the bot's direct-message channel with ``user_id``."""
        with self.lock:
            channel = self.ims.get(user_id)
        return self.posted(channel) if channel else []

    def members_of(self, channel: str) -> set[str]:
        with self.lock:
            return set(self.members.get(channel, set()))

    # ---- the API --------------------------------------------------------
    def _next_ts(self) -> str:
        with self.lock:
            self._ts = max(self._ts + 0.000100, time.time())
            return f"{self._ts:.6f}"

    def _channel_id(self, value: str) -> str | None:
        if value in self.channels or value in self.ims.values():
            return value
        name = value.lstrip("#")
        for channel_id, channel_name in self.channels.items():
            if channel_name == name:
                return channel_id
        return None

    def handle(self, method: str, args: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": "UKEEL", "team": "keel"}
        if method == "conversations.list":
            # Paged like Slack: ``limit`` per page, an opaque ``next_cursor`` ("" at the end).
            limit = _page_limit(method, args)
            if limit is None:
                return {"ok": False, "error": "invalid_limit"}
            with self.lock:
                channels = [{"id": cid, "name": name} for cid, name in self.channels.items()]
            start = 0
            if args.get("cursor"):
                try:
                    start = int(base64.b64decode(str(args["cursor"])).decode().split(":")[1])
                except (ValueError, IndexError):
                    return {"ok": False, "error": "invalid_cursor"}
            more = start + limit < len(channels)
            return {
                "ok": True,
                "channels": channels[start : start + limit],
                "response_metadata": {
                    "next_cursor": base64.b64encode(f"start:{start + limit}".encode()).decode()
                    if more
                    else ""
                },
            }
        if method == "users.info":
            with self.lock:
                user = self.users.get(str(args.get("user", "")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": user}
        if method == "users.lookupByEmail":
            email = str(args.get("email", "")).lower()
            with self.lock:
                found = [
                    u
                    for u in self.users.values()
                    if (u["profile"].get("email") or "").lower() == email and not u["deleted"]
                ]
            if not found:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": found[0]}
        if method == "conversations.open":
            # Like Slack: ``users`` (one id here; several would open a group DM),
            # the same DM channel every time, ``already_open`` on the later calls.
            users = [u for u in str(args.get("users", "")).split(",") if u]
            if not users and not args.get("channel"):
                return {"ok": False, "error": "users_list_not_supplied"}
            if len(users) > 1:
                return {"ok": False, "error": "not_implemented_in_fake"}
            with self.lock:
                user = self.users.get(users[0]) if users else None
                if user is None:
                    return {"ok": False, "error": "user_not_found"}
                if user.get("deleted"):
                    return {"ok": False, "error": "user_disabled"}
                already = users[0] in self.ims
                channel_id = self.ims.setdefault(users[0], f"D{users[0][1:]:0>8}")
            answer = {"ok": True, "channel": {"id": channel_id}}
            if already:
                answer.update(no_op=True, already_open=True)
            return answer
        if method == "conversations.create":
            name = str(args.get("name", ""))
            if not re.fullmatch(r"[a-z0-9_-]{1,80}", name):
                return {"ok": False, "error": "invalid_name_specials"}
            with self.lock:
                if name in self.channels.values():
                    return {"ok": False, "error": "name_taken"}
                channel_id = f"C{len(self.channels):08d}"
                self.channels[channel_id] = name
                self.members[channel_id] = {"UKEEL"}
                if str(args.get("is_private", "")).lower() in {"1", "true"}:
                    self.private_channels.add(channel_id)
            return {"ok": True, "channel": {"id": channel_id, "name": name}}
        if method == "conversations.invite":
            channel = self._channel_id(str(args.get("channel", "")))
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            invitees = [u for u in str(args.get("users", "")).split(",") if u]
            with self.lock:
                if any(u not in self.users for u in invitees):
                    return {"ok": False, "error": "user_not_found"}
                members = self.members.setdefault(channel, set())
                if invitees and all(u in members for u in invitees):
                    return {"ok": False, "error": "already_in_channel"}
                members.update(invitees)
            return {"ok": True, "channel": {"id": channel}}
        channel = self._channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if method == "chat.postMessage":
            message = {
                "ts": self._next_ts(),
                "text": args.get("text", ""),
                "blocks": args.get("blocks"),
                "thread_ts": args.get("thread_ts"),
                "metadata": args.get("metadata"),
            }
            with self.lock:
                self.messages.setdefault(channel, []).append(message)
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        if method == "chat.postEphemeral":
            message = {"channel": channel, "user": args.get("user"), "text": args.get("text", "")}
            with self.lock:
                self.ephemerals.append(message)
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            with self.lock:
                for message in self.messages.get(channel, []):
                    if message["ts"] == args.get("ts"):
                        message.update(text=args.get("text", ""), blocks=args.get("blocks"))
                        return {"ok": True, "channel": channel, "ts": message["ts"]}
            return {"ok": False, "error": "message_not_found"}
        if method == "conversations.history":
            with self.lock:
                found = [
                    m
                    for m in self.messages.get(channel, [])
                    if not m.get("thread_ts") and _in_window(m, args)
                ]
            return _paged(method, args, list(reversed(found)))
        if method == "conversations.replies":
            root = args.get("ts")
            with self.lock:
                # Like Slack: the ts of a reply stands for its whole thread.
                reply = next(
                    (
                        m
                        for m in self.messages.get(channel, [])
                        if m["ts"] == root and m.get("thread_ts") and m["thread_ts"] != root
                    ),
                    None,
                )
                if reply is not None:
                    root = reply["thread_ts"]
                thread = [
                    m
                    for m in self.messages.get(channel, [])
                    if m["ts"] == root or m.get("thread_ts") == root
                ]
            if not thread or thread[0]["ts"] != root:
                return {"ok": False, "error": "thread_not_found"}
            return _paged(method, args, [m for m in thread if _in_window(m, args)])
        return {"ok": False, "error": "unknown_method"}


def _make_handler(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _args(self) -> dict:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if raw:
                if "json" in (self.headers.get("Content-Type") or ""):
                    query.update(json.loads(raw))
                else:
                    query.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            for key in ("blocks", "metadata"):
                if isinstance(query.get(key), str):
                    with contextlib.suppress(ValueError):
                        query[key] = json.loads(query[key])
            return query

        def _respond(self, status: int, body: dict, headers: dict | None = None) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): exactly what a hang test wants

        def _handle(self):
            method = urlsplit(self.path).path.rsplit("/", 1)[-1]
            args = self._args()
            with fake.lock:
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                fake.calls.append(Call(method, args, time.time(), token))
                queue = fake.faults.get(method) or []
                fault = queue.pop(0) if queue else None
            if fault and fault.apply_then_hang:
                fake.handle(method, args)
                time.sleep(fault.hang_seconds)
                return self._respond(200, {"ok": False, "error": "too_late"})
            if fault and fault.hang_seconds:
                time.sleep(fault.hang_seconds)
            if fault and fault.status != 200:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
                return self._respond(fault.status, {"ok": False, "error": error}, headers)
            if fault and fault.error:
                return self._respond(200, {"ok": False, "error": fault.error})
            return self._respond(200, fake.handle(method, args))

        do_GET = _handle
        do_POST = _handle

    return Handler


class FakeSlackServer:
    def __init__(self):
        self.fake = FakeSlack()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self.fake))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def __enter__(self) -> "FakeSlackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class ResponseUrlReceiver:
    """A local ``response_url``: records every JSON message Slack would show the
    user; ``script`` lists HTTP statuses to answer next (default 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.script: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    if status < 300:
                        receiver.received.append(
                            {"path": self.path, "body": json.loads(body or b"{}")}
                        )
                payload = b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str = "hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/commands/{name}"

    def texts(self) -> list[str]:
        with self.lock:
            return [event["body"].get("text", "") for event in self.received]

    def __enter__(self) -> "ResponseUrlReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- requests Slack sends to Keel (slash commands, button clicks) ----------

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0KEEL"


def slack_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature, written out here independently of the code under test."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_post(client, path: str, body: bytes, *, secret=SIGNING_SECRET, at=None, **headers):
    """POST a form body through Django's test client, signed as Slack signs it."""
    timestamp = str(int(time.time() if at is None else at))
    extra = {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": slack_signature(secret=secret, timestamp=timestamp, body=body),
    }
    extra.update(headers)
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded", **extra)


def _trigger() -> str:
    return f"{time.monotonic_ns()}.4242.{time.time_ns():x}"


def command_body(text: str, *, user: str, response_url: str = "", trigger: str = "") -> bytes:
    """The form Slack posts for ``/incident <text>``."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "keel",
            "channel_id": "C0INCIDENTS",
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/incident",
            "text": text,
            "api_app_id": "A0KEEL",
            "response_url": response_url,
            "trigger_id": trigger or _trigger(),
        }
    ).encode()


def action_body(
    action_id: str, value: str, *, user: str, response_url: str = "", trigger: str = ""
) -> bytes:
    """The form Slack posts when a button is clicked: a ``payload`` field of JSON."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "keel"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0KEEL",
        "trigger_id": trigger or _trigger(),
        "container": {"type": "message", "channel_id": "C0INCIDENTS"},
        "channel": {"id": "C0INCIDENTS", "name": "incidents"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "actions",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()
