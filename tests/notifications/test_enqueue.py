"""common.enqueue: the one publish helper. A broker error is logged with the
ids and dropped (the sweeper is the guarantee); a programming error raises."""

import logging

import pytest
from kombu.exceptions import OperationalError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common import enqueue
from notifications import tasks


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RedisTimeoutError("Timeout reading from socket"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_a_broker_error_stops_the_batch_and_names_every_unsent_id(monkeypatch, caplog, error):
    calls: list = []

    def apply_async(args, producer=None, **options):
        calls.append(args)
        if len(calls) == 2:
            raise error

    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", apply_async)
    messages = [(tasks.delivery_send_task, (f"id-{n}",)) for n in range(4)]

    with caplog.at_level(logging.WARNING, logger="common.enqueue"):
        sent = enqueue.publish(messages, what="send tasks")

    assert sent == 1
    assert len(calls) == 2, "stopped at the first broker error instead of waiting per message"
    assert "3 of 4 send tasks not published" in caplog.text
    assert "id-1, id-2, id-3" in caplog.text and "id-0" not in caplog.text.split("published:")[1]


def test_a_programming_error_is_not_mistaken_for_a_broker_outage(monkeypatch):
    def apply_async(args, producer=None, **options):
        raise TypeError("Object of type Decimal is not JSON serializable")

    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", apply_async)

    with pytest.raises(TypeError):
        enqueue.publish([(tasks.delivery_send_task, ("x",))], what="send tasks")


def test_reschedule_waits_at_least_half_a_second(monkeypatch):
    calls: list = []
    monkeypatch.setattr(
        tasks.delivery_send_task,
        "apply_async",
        lambda args, producer=None, **options: calls.append((args, options)),
    )

    assert enqueue.reschedule(tasks.delivery_send_task, ("x",), countdown=0.01, what="delivery")
    assert calls == [(("x",), {"countdown": 0.5})]


def test_reschedule_says_false_when_the_broker_is_down(monkeypatch):
    def apply_async(args, producer=None, **options):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", apply_async)

    assert not enqueue.reschedule(tasks.delivery_send_task, ("x",), countdown=3, what="delivery")


@pytest.mark.django_db
def test_enqueue_on_commit_publishes_only_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
):
    calls: list = []
    monkeypatch.setattr(
        tasks.delivery_send_task,
        "apply_async",
        lambda args, producer=None, **options: calls.append(args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        enqueue.enqueue_on_commit([(tasks.delivery_send_task, ("a",))], what="send tasks")
        assert calls == []
    assert calls == [("a",)]
