"""Live pages: tell open pages that an incident changed, say who else is looking.

What a page learns is only *that* something changed and a version token; it then
asks for the fragment again through the ordinary view, which applies the
private-incident visibility (``incidents.visibility``) like any other read. The
streams filter too (``forwardable``): a user's stream never even mentions an
incident that user may not see.

Three mechanisms, one per concern:

- **Version tokens** (``incident_version``, ``list_version``): one cheap query
  each, from the rows' own timestamps and counts. Polling (``ETag``/304) and the
  streams' ``Last-Event-ID`` both compare them, so a page converges even when a
  publish was lost.
- **Publish** (``incident_changed``): after the transaction commits, one Redis
  ``PUBLISH`` per change, bounded by ``KEEL_LIVE_PUBLISH_TIMEOUT_MS``. A failure is
  logged and counted (``keel_live_publish_failures``) and never fails the write;
  after one, publishing rests for ``PUBLISH_REST`` so a Redis outage costs one
  timeout, not one per write. Without Redis nothing is published: pages poll.
- **Presence** (``presence_touch``/``presence_list``): with Redis, a sorted set per
  incident (member: the user, score: when the entry expires); without, one entry
  per incident in the ``live`` cache (files in the data dir, shared by the web
  processes on one host), refreshed by each poll.
"""

import functools
import hashlib
import json
import logging
import threading
import time
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import InvalidCacheBackendError, caches
from django.db import connection, transaction

from common import metrics
from common.roles import is_admin
from incidents.models import Incident, TimelineEvent
from incidents.visibility import can_see, incidents_visible_to

logger = logging.getLogger(__name__)

PUBLISH_REST = 5.0  # seconds without publishing after a failure
LIST_CHANNEL = "incidents"


# ---- version tokens -----------------------------------------------------------------


def token(*parts) -> str:
    return hashlib.sha1("|".join(str(part) for part in parts).encode()).hexdigest()[:16]


# The incident's token as SQL written once, like the list's below: built through the
# ORM, its two correlated subqueries (the events' figures concatenated, the deliveries'
# latest change) cost ~1 ms of Python per page and per poll to compile, more than the
# query takes to run. Each figure is its own column: the token hashes them as they come.
_INCIDENT_VERSION_SQL = """
SELECT i.updated_at, events.n, events.top, events.edited, events.struck, deliveries.stamp
FROM {incident} i
CROSS JOIN (
  SELECT COUNT(*) AS n, MAX(e.id) AS top, MAX(e.edited_at) AS edited, MAX(e.struck_at) AS struck
    FROM {event} e WHERE e.incident_id = %s
) events
CROSS JOIN (
  SELECT MAX(d.updated_at) AS stamp FROM {delivery} d
   INNER JOIN {update} u ON u.id = d.update_id
   WHERE u.incident_id = %s
) deliveries
WHERE i.id = %s
"""


@functools.cache
def _incident_version_sql() -> str:
    # Deliveries and status updates belong to notifications, which depends on
    # incidents: their tables are looked up by name, so incidents imports nothing of it.
    def table(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    return _INCIDENT_VERSION_SQL.format(
        incident=table(Incident),
        event=table(TimelineEvent),
        update=table(apps.get_model("notifications", "StatusUpdate")),
        delivery=table(apps.get_model("notifications", "Delivery")),
    )


def incident_version(incident_id: int) -> str | None:
    """A token that changes whenever the incident page would show something new: the
    incident row, its timeline (added, edited, struck), its deliveries' statuses.
    ``None`` when the incident does not exist. One query, one pass over the
    incident's events (a long timeline is read once, not once per figure)."""
    with connection.cursor() as cursor:
        cursor.execute(_incident_version_sql(), [incident_id] * 3)
        row = cursor.fetchone()
    return None if row is None else token(*row)


# The list's token as SQL written once: built through the ORM, its five subqueries (each
# with the visibility rule's two ``Exists``) cost ~6 ms of Python per page and per poll
# to compile, more than the query takes to run. Every signed-in user sees every public
# incident (``incidents.visibility``), so the public figures name no user; the private
# incidents the user sees (few: participants' and, for admins, the 1 % marked private)
# come from the rule itself, compiled as one flat query.
_LIST_VERSION_SQL = """
SELECT
  (SELECT MAX(i.updated_at) FROM {incident} i WHERE NOT i.private),
  (SELECT MAX(i.id) FROM {incident} i WHERE NOT i.private),
  (SELECT d.updated_at FROM {delivery} d
     INNER JOIN {update} u ON u.id = d.update_id
     INNER JOIN {incident} i ON i.id = u.incident_id
    WHERE NOT i.private ORDER BY d.updated_at DESC LIMIT 1),
  (SELECT u.id FROM {update} u INNER JOIN {incident} i ON i.id = u.incident_id
    WHERE NOT i.private ORDER BY u.id DESC LIMIT 1),
  seen.n, seen.stamp, seen.top, seen.last_update, seen.last_delivery
FROM (
  SELECT COUNT(DISTINCT i.id) AS n, MAX(i.updated_at) AS stamp, MAX(i.id) AS top,
         MAX(u.id) AS last_update, MAX(d.updated_at) AS last_delivery
    FROM ({private}) i
    LEFT OUTER JOIN {update} u ON u.incident_id = i.id
    LEFT OUTER JOIN {delivery} d ON d.update_id = u.id
) seen
"""


@functools.cache
def _list_version_sql() -> str:
    # Deliveries and status updates belong to notifications, which depends on
    # incidents: their tables are looked up by name, so incidents imports nothing of it.
    def table(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    return _LIST_VERSION_SQL.format(
        incident=table(Incident),
        update=table(apps.get_model("notifications", "StatusUpdate")),
        delivery=table(apps.get_model("notifications", "Delivery")),
        private="{private}",  # the user's part, filled in per call
    )


def list_version(user) -> str:
    """A token for the incidents ``user`` may see (the list and the CS desk): the
    latest change to any of them, the newest of them, the latest status update and
    delivery change of any of them, figured apart for the public ones and for the
    private ones ``user`` sees (with their count: visibility changes only there).
    One query of index reads (the latest change, the newest id, the partial index of
    private incidents), whatever the history's length."""
    if user is None or not user.is_authenticated:
        return token()
    sql, params = _list_version_query(admin=is_admin(user))
    params = [
        user.pk if type(value) is int and value == _STAND_IN_ID else value for value in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return token(*cursor.fetchone())


# The visibility rule names a user by id, and by their role (an admin sees every
# incident): the list's token is compiled once per process for each role, from the
# rule, for a stand-in user whose id each call replaces with the reader's (compiling
# it per call was ~1.5 ms of a poll's Python). ``tests/incidents/test_live.py`` holds
# it equal to the rule compiled for real users.
_STAND_IN_ID = -918_273_645


@functools.cache
def _list_version_query(*, admin: bool) -> tuple[str, tuple]:
    stand_in = get_user_model()(pk=_STAND_IN_ID, is_superuser=admin)
    private, params = _private_seen(stand_in).query.sql_with_params()
    return _list_version_sql().replace("{private}", private), params


def _private_seen(user):
    return (
        incidents_visible_to(user).filter(private=True).order_by().values_list("id", "updated_at")
    )


# ---- Redis ----------------------------------------------------------------------------

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def streams_enabled() -> bool:
    return bool(settings.KEEL_LIVE_STREAMS and settings.REDIS_URL)


def redis_client(kind: str = "publish"):
    """A client per purpose and process: ``publish`` (short timeouts, for the request
    path) or ``stream`` (a read timeout longer than the heartbeat)."""
    import redis

    with _clients_lock:
        client = _clients.get(kind)
        if client is None:
            if kind == "publish":
                timeout = settings.KEEL_LIVE_PUBLISH_TIMEOUT_MS / 1000
            else:
                timeout = settings.KEEL_LIVE_HEARTBEAT_SECONDS + 5.0
            client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=timeout,
                socket_connect_timeout=min(timeout, 2.0),
                retry_on_timeout=False,
                health_check_interval=0,
            )
            _clients[kind] = client
        return client


def _namespace() -> str:
    # Pub/sub channels are server-wide, not per database: the database number keeps two
    # Keels (or two test suites) on one Redis server apart.
    database = urlsplit(settings.REDIS_URL or "").path.strip("/") or "0"
    return f"keel:{database}:live"


def channel_for(incident_id: int | None) -> str:
    suffix = LIST_CHANNEL if incident_id is None else f"incident:{incident_id}"
    return f"{_namespace()}:{suffix}"


# ---- publish --------------------------------------------------------------------------

_stats_lock = threading.Lock()
_stats = {"published": 0, "publish_failures": 0, "open_streams": 0, "refused_streams": 0}
_rest_until = 0.0
# The same figures on /metrics, summed over every web worker (common.metrics).
_PUBLISH_FAILURES = metrics.counter(
    "keel_live_publish_failures",
    "Change notices a web process could not publish (pages poll instead).",
    (),
)
_REFUSED_STREAMS = metrics.counter(
    "keel_live_refused_streams",
    "Event streams refused at a process's cap, KEEL_LIVE_MAX_STREAMS (the page polls).",
    (),
)
_OPEN_STREAMS = metrics.process_gauge(
    "keel_live_open_streams", "Event streams open now, over every web worker."
)


def _count(name: str, delta: int = 1) -> None:
    with _stats_lock:
        _stats[name] += delta
    if name == "publish_failures":
        _PUBLISH_FAILURES.inc(delta)


def stats() -> dict:
    with _stats_lock:
        return dict(_stats)


def publish(incident_id: int, *, private: bool, what: str = "changed") -> bool:
    """Tell the incident's stream and the list streams; ``True`` when Redis took it.
    Never raises: a failure is logged and counted, and pages converge by polling."""
    global _rest_until
    if not streams_enabled():
        return False
    if time.monotonic() < _rest_until:
        _count("publish_failures")
        return False
    message = json.dumps({"incident": incident_id, "private": private, "what": what})
    try:
        client = redis_client("publish")
        pipe = client.pipeline(transaction=False)
        pipe.publish(channel_for(incident_id), message)
        if what == "changed":
            pipe.publish(channel_for(None), message)
        pipe.execute()
    except Exception as exc:  # any Redis error: the write stands, the page polls
        _rest_until = time.monotonic() + PUBLISH_REST
        _count("publish_failures")
        logger.warning("live: publish for incident %s failed: %s", incident_id, exc)
        return False
    _count("published")
    return True


def incident_changed(incident: Incident | int) -> None:
    """Publish that ``incident`` changed once the current transaction commits (at once
    outside one). Call it from the place a change is written. An incident given as an
    object is read at commit time (a new one has its id by then); given as an id, its
    privacy is unknown and the list streams check it."""
    if not streams_enabled():
        return

    def after_commit():
        if isinstance(incident, Incident):
            if incident.pk is not None:
                publish(incident.pk, private=incident.private)
        else:
            publish(incident, private=True)

    transaction.on_commit(after_commit)


def forwardable(user, message: dict) -> bool:
    """Whether a list stream may pass ``message`` on to ``user``: a public incident to
    anyone signed in, a private one only to whom may see it (one query)."""
    incident_id = message.get("incident")
    if not isinstance(incident_id, int):
        return False
    if not message.get("private"):
        return bool(user and user.is_authenticated)
    return incidents_visible_to(user).filter(pk=incident_id).exists()


def still_visible(user, incident_id: int) -> bool:
    incident = Incident.objects.filter(pk=incident_id).only("pk", "private").first()
    return incident is not None and can_see(user, incident)


# ---- open streams per process ----------------------------------------------------------

_slots: dict[int, float] = {}
_next_slot = 0


def stream_slot_take() -> int | None:
    """Take one of ``KEEL_LIVE_MAX_STREAMS`` slots of this process: its number, or
    ``None`` when all are taken. A slot not given back (a server that never closed
    the response) frees itself once a stream could no longer be running."""
    global _next_slot
    now = time.monotonic()
    oldest = now - settings.KEEL_LIVE_STREAM_SECONDS - 2 * settings.KEEL_LIVE_HEARTBEAT_SECONDS
    with _stats_lock:
        for slot in [slot for slot, since in _slots.items() if since < oldest]:
            del _slots[slot]
        if len(_slots) >= settings.KEEL_LIVE_MAX_STREAMS:
            _stats["refused_streams"] += 1
            _REFUSED_STREAMS.inc()
            return None
        _next_slot += 1
        _slots[_next_slot] = now
        _stats["open_streams"] = len(_slots)
        _OPEN_STREAMS.set(len(_slots))
        return _next_slot


def stream_slot_give_back(slot: int) -> None:
    with _stats_lock:
        _slots.pop(slot, None)
        _stats["open_streams"] = len(_slots)
        _OPEN_STREAMS.set(len(_slots))


# ---- presence ---------------------------------------------------------------------------


def display_name(user) -> str:
    return (user.get_full_name() or user.get_username())[:80]


def _presence_key(incident_id: int) -> str:
    return f"{_namespace()}:presence:{incident_id}"


def _presence_cache():
    try:
        return caches["live"]
    except InvalidCacheBackendError:
        return caches["default"]


def presence_touch(incident_id: int, user) -> bool:
    """Record that ``user`` has the incident open for the next
    ``KEEL_LIVE_PRESENCE_SECONDS``; ``True`` when they were not there before."""
    ttl = settings.KEEL_LIVE_PRESENCE_SECONDS
    now = time.time()
    member = json.dumps([user.pk, display_name(user)])
    if settings.REDIS_URL:
        try:
            client = redis_client("publish")
            key = _presence_key(incident_id)
            pipe = client.pipeline(transaction=False)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zscore(key, member)
            pipe.zadd(key, {member: now + ttl})
            pipe.expire(key, ttl * 2)
            _, before, _, _ = pipe.execute()
            return before is None
        except Exception as exc:
            logger.warning("live: presence for incident %s not recorded: %s", incident_id, exc)
            return False
    cache = _presence_cache()
    key = f"live-presence:{incident_id}"
    entries = {k: v for k, v in (cache.get(key) or {}).items() if v[1] > now}
    new = str(user.pk) not in entries
    entries[str(user.pk)] = (display_name(user), now + ttl)
    cache.set(key, entries, ttl * 2)
    return new


def presence_leave(incident_id: int, user) -> None:
    member = json.dumps([user.pk, display_name(user)])
    if settings.REDIS_URL:
        try:
            redis_client("publish").zrem(_presence_key(incident_id), member)
        except Exception as exc:
            logger.warning("live: presence for incident %s not cleared: %s", incident_id, exc)
        return
    cache = _presence_cache()
    key = f"live-presence:{incident_id}"
    entries = cache.get(key) or {}
    if entries.pop(str(user.pk), None) is not None:
        cache.set(key, entries, settings.KEEL_LIVE_PRESENCE_SECONDS * 2)


def presence_list(incident_id: int, *, exclude=None) -> list[str]:
    """The names of who else has the incident open, sorted (not ``exclude``)."""
    now = time.time()
    names: dict[int, str] = {}
    if settings.REDIS_URL:
        try:
            members = redis_client("publish").zrangebyscore(_presence_key(incident_id), now, "+inf")
        except Exception as exc:
            logger.warning("live: presence for incident %s not read: %s", incident_id, exc)
            return []
        for raw in members:
            user_id, name = json.loads(raw)
            names[user_id] = name
    else:
        entries = _presence_cache().get(f"live-presence:{incident_id}") or {}
        for user_id, (name, until) in entries.items():
            if until > now:
                names[int(user_id)] = name
    if exclude is not None:
        names.pop(exclude.pk, None)
    return sorted(names.values(), key=str.lower)
