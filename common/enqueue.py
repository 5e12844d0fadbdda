"""The one way Keel publishes a task: after commit, bounded, never hiding a bug.

The outbox row is the guarantee and the sweeper its enforcer; the broker
publish is only the fast path. So a publish that fails because the broker is
down, refused, frozen or timing out is logged with the ids it carried and
dropped — the sweeper sends the row later. Anything else (a wrong argument, a
task that does not serialise) is a programming error and raises.

On the web a publish is bounded by ``KEEL_BROKER_PUBLISH_TIMEOUT_MS`` and is not
retried (``config/settings/base.py``), so a frozen Redis costs a request at most
about that.
"""

import logging
from collections.abc import Iterable

from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# The broker is unreachable or did not answer in time: the only errors dropped here.
BROKER_ERRORS = (KombuOperationalError, RedisConnectionError, RedisTimeoutError, OSError)

Message = tuple  # (task, args) or (task, args, apply_async options)


def publish(messages: Iterable[Message], *, what: str) -> int:
    """Publish ``messages`` now through one broker connection; return how many went.

    The first broker error stops the rest (each would wait out the same bound) and
    is logged with every id not published; the sweeper enqueues them later."""
    messages = list(messages)
    if not messages:
        return 0
    sent = 0
    app = messages[0][0].app
    try:
        with app.producer_or_acquire() as producer:
            for message in messages:
                task, args = message[0], message[1]
                options = message[2] if len(message) > 2 else {}
                task.apply_async(args, producer=producer, **options)
                sent += 1
    except BROKER_ERRORS as exc:
        unsent = [message[1] for message in messages[sent:]]
        logger.warning(
            "broker unavailable: %s of %s %s not published (%s: %s); the sweeper will "
            "enqueue them. Not published: %s",
            len(unsent),
            len(messages),
            what,
            type(exc).__name__,
            exc,
            _ids(unsent),
        )
    return sent


def enqueue_on_commit(messages: Iterable[Message], *, what: str) -> None:
    """Publish ``messages`` once the current transaction commits (now, outside one)."""
    messages = list(messages)
    if messages:
        transaction.on_commit(lambda: publish(messages, what=what))


def reschedule(task, args: tuple, *, countdown: float, what: str) -> bool:
    """Run ``task(*args)`` again in ``countdown`` seconds (at least half a second),
    instead of sleeping in the worker slot. False when the broker refused it: the
    row stays due, and the sweeper picks it up."""
    options = {"countdown": max(countdown, 0.5)}
    return publish([(task, args, options)], what=what) == 1


def _ids(arg_lists: list) -> str:
    flat = [
        str(item)
        for args in arg_lists
        for arg in args
        for item in (arg if isinstance(arg, list | tuple) else [arg])
    ]
    text = ", ".join(flat)
    return text if len(text) <= 2000 else text[:2000] + f"… ({len(flat)} ids)"
