"""Live pages (incidents.live): version tokens, publishing after commit, the
visibility filter of the streams, polling with ETag/304, presence, the stream cap."""

import json

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from common.roles import is_admin
from incidents import live, services
from incidents.lifecycle import Stage
from incidents.models import Incident, TimelineEvent
from notifications.models import Delivery, StatusUpdate
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory

pytestmark = pytest.mark.django_db


def declare(actor, **kwargs) -> Incident:
    return services.incident_declare(
        title=kwargs.pop("title", "Checkout errors"),
        severity=severity("SEV3"),
        actor=actor,
        **kwargs,
    )


@pytest.fixture(autouse=True)
def fresh_live_state(settings, redis_url):
    """Clients and counters are per process: each test starts from none, on its own
    Redis database (the pub/sub channels carry the database number)."""
    settings.KEEL_LIVE_STREAMS = True
    live._clients.clear()
    live._rest_until = 0.0
    live._slots.clear()
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{live._namespace()}:*"):
        client.delete(key)
    yield
    live._clients.clear()
    live._rest_until = 0.0


@pytest.fixture
def listener(redis_url):
    """Subscribed to the list channel: what ``incident_changed`` published."""
    pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live.channel_for(None))

    def received() -> list[dict]:
        messages = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            messages.append(json.loads(message["data"]))
        return messages

    yield received
    pubsub.close()


def opened(response):
    """The stream with its opening (retry, hello) read: what happens next is news."""
    chunks = iter(response.streaming_content)
    head = [next(chunks), next(chunks)]
    return head, chunks


def events_of(response, *, read=None) -> list[tuple[str, dict]]:
    """The (event, data) pairs of a finished stream (``read``: an ``opened`` one)."""
    head, rest = read if read else ([], response.streaming_content)
    text = b"".join([*head, *rest]).decode()
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


# Version tokens ------------------------------------------------------------------------


def test_the_incident_version_changes_with_each_thing_its_page_shows(responder):
    incident = declare(responder)
    first = live.incident_version(incident.pk)
    assert live.incident_version(incident.pk) == first  # stable while nothing changes

    note = services.note_add(
        incident=incident, text="Looking at the 14:02 deploy.", actor=responder
    )
    after_note = live.incident_version(incident.pk)
    services.note_edit(event=note, text="Looking at the 14:03 deploy.", actor=responder)
    after_edit = live.incident_version(incident.pk)
    services.incident_move(incident=incident, to=Stage.PROPAGATE, actor=responder)
    after_move = live.incident_version(incident.pk)

    assert len({first, after_note, after_edit, after_move}) == 4
    assert live.incident_version(999_999) is None


def test_the_list_version_ignores_incidents_the_user_may_not_see(responder):
    outsider = UserFactory(role="responder")
    public = declare(responder)
    secret = declare(responder, title="Leaked credentials", private=True)
    mine, theirs = live.list_version(responder), live.list_version(outsider)

    services.incident_update(incident=secret, actor=responder, data={"title": "Leaked keys"})
    assert live.list_version(outsider) == theirs
    assert live.list_version(responder) != mine

    services.incident_update(incident=public, actor=responder, data={"title": "Checkout 500s"})
    assert live.list_version(outsider) != theirs


@pytest.mark.parametrize("role", ["responder", "viewer", "admin", "superuser", None])
def test_the_list_versions_query_is_the_visibility_rule_compiled_for_the_reader(responder, role):
    reader = UserFactory(role=role) if role != "superuser" else UserFactory(is_superuser=True)
    declare(responder, title="Leaked credentials", private=True)
    private, params = live._private_seen(reader).query.sql_with_params()
    fresh = (live._list_version_sql().replace("{private}", private), list(params))

    sql, cached = live._list_version_query(admin=is_admin(reader))
    assert (sql, [reader.pk if value == live._STAND_IN_ID else value for value in cached]) == fresh


def test_the_list_version_moves_with_updates_and_deliveries_the_user_may_see(responder):
    outsider = UserFactory(role="responder")
    public = declare(responder)
    secret = declare(responder, title="Leaked credentials", private=True)
    destination = DestinationFactory()

    def posted(incident):
        update = StatusUpdate.objects.create(
            incident=incident, message="Investigating.", created_at=timezone.now()
        )
        return Delivery.objects.create(
            update=update, destination=destination, next_attempt_at=timezone.now()
        )

    mine, theirs = live.list_version(responder), live.list_version(outsider)
    delivery = posted(secret)
    assert live.list_version(outsider) == theirs
    assert live.list_version(responder) != mine
    mine = live.list_version(responder)
    delivery.save()  # its status changed: a new updated_at
    assert live.list_version(outsider) == theirs
    assert live.list_version(responder) != mine

    delivery = posted(public)
    assert live.list_version(outsider) != theirs
    theirs = live.list_version(outsider)
    delivery.save()
    assert live.list_version(outsider) != theirs


# Publishing ------------------------------------------------------------------------------


def test_a_write_publishes_after_commit_and_only_then(
    responder, listener, django_capture_on_commit_callbacks
):
    incident = declare(responder)
    listener()  # the declare's own notices
    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.note_add(incident=incident, text="Rolled back.", actor=responder)
    assert listener() == []  # not committed yet: nothing said

    for callback in pending:
        callback()
    messages = listener()
    assert messages and {m["incident"] for m in messages} == {incident.pk}
    assert messages[0] == {"incident": incident.pk, "private": False, "what": "changed"}


def test_a_failed_publish_is_counted_and_never_fails_the_write(
    settings, responder, django_capture_on_commit_callbacks
):
    incident = declare(responder)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    live._clients.clear()
    before = live.stats()["publish_failures"]

    with django_capture_on_commit_callbacks(execute=True):
        note = services.note_add(incident=incident, text="Still here.", actor=responder)
        services.note_add(incident=incident, text="And here.", actor=responder)

    assert TimelineEvent.objects.filter(incident=incident, kind="note").count() == 2
    assert note.pk is not None
    # The first failure rests publishing: the second write does not wait on Redis again.
    assert live.stats()["publish_failures"] >= before + 2
    assert live.publish(incident.pk, private=False) is False


def test_nothing_is_published_without_streams(settings, responder, listener):
    settings.KEEL_LIVE_STREAMS = False
    incident = declare(responder)
    assert live.publish(incident.pk, private=False) is False
    assert listener() == []


# Visibility ------------------------------------------------------------------------------


def test_the_list_streams_pass_a_private_incident_only_to_whom_may_see_it(responder, viewer):
    secret = declare(responder, title="Leaked credentials", private=True)
    public = declare(responder)
    outsider = UserFactory(role="responder")

    private_notice = {"incident": secret.pk, "private": True, "what": "changed"}
    assert live.forwardable(responder, private_notice)
    assert not live.forwardable(outsider, private_notice)
    assert not live.forwardable(viewer, private_notice)
    assert live.forwardable(viewer, {"incident": public.pk, "private": False})
    assert not live.forwardable(viewer, {"incident": "1 OR 1=1", "private": False})


def test_polling_and_streams_refuse_a_private_incident_to_outsiders(client, responder):
    secret = declare(responder, title="Leaked credentials", private=True)
    client.force_login(UserFactory(role="responder"))

    assert client.get(reverse("incidents:live", args=[secret.pk])).status_code == 404
    assert client.get(reverse("incidents:live_stream", args=[secret.pk])).status_code == 404


def test_a_list_stream_tells_a_user_only_of_incidents_they_may_see(
    client, settings, responder, redis_url
):
    settings.KEEL_LIVE_STREAM_SECONDS = 1
    settings.KEEL_LIVE_HEARTBEAT_SECONDS = 1
    secret = declare(responder, title="Leaked credentials", private=True)
    public = declare(responder)
    outsider = UserFactory(role="responder")
    client.force_login(outsider)

    response = client.get(reverse("incidents:live_list_stream"))
    assert response["Content-Type"] == "text/event-stream"
    read = opened(response)
    services.incident_update(incident=secret, actor=responder, data={"title": "Leaked keys"})
    live.publish(secret.pk, private=True)
    assert [name for name, _ in events_of(response, read=read)] == ["hello", "bye"]

    response = client.get(reverse("incidents:live_list_stream"))
    read = opened(response)
    services.incident_update(incident=public, actor=responder, data={"title": "Checkout 500s"})
    live.publish(public.pk, private=False)
    assert [name for name, _ in events_of(response, read=read)] == ["hello", "changed", "bye"]


# Polling: ETag / 304 ------------------------------------------------------------------------


def test_the_poll_answers_304_until_something_changes(client, responder):
    incident = declare(responder)
    client.force_login(responder)
    url = reverse("incidents:live", args=[incident.pk])

    first = client.get(url)
    assert first.status_code == 200 and first.json()["version"]
    assert first.json()["version"] == live.incident_version(incident.pk)
    again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304

    services.note_add(incident=incident, text="Rolled back.", actor=responder)
    changed = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200
    assert changed.json()["version"] != first.json()["version"]


def test_the_list_poll_answers_304_until_a_new_incident(client, responder, viewer):
    client.force_login(viewer)
    url = reverse("incidents:live_list")
    first = client.get(url)
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304
    declare(responder)
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 200


def test_the_pages_carry_the_version_they_were_rendered_at(client, responder):
    incident = declare(responder)
    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert f'data-live-version="{live.incident_version(incident.pk)}"' in page
    assert 'data-live-stream="/incidents/' in page and "js/live.js" in page
    listing = client.get(reverse("incidents:list")).content.decode()
    assert f'data-live-version="{live.list_version(responder)}"' in listing
    desk = client.get(reverse("cs-brief")).content.decode()
    assert 'id="cs-items" data-live-version="' in desk and "/cs/live/stream/" in desk


def test_without_redis_the_pages_poll_only(client, settings, responder):
    settings.KEEL_LIVE_STREAMS = False
    incident = declare(responder)
    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "data-live-stream" not in page and "data-live-state" in page
    response = client.get(reverse("incidents:live_stream", args=[incident.pk]))
    assert response.status_code == 204  # an EventSource stops there; the page polls


# Presence -----------------------------------------------------------------------------------


def test_presence_names_the_others_who_have_the_incident_open(client, responder):
    incident = declare(responder)
    sam = UserFactory(username="sam", first_name="Sam", last_name="Lee", role="responder")
    client.force_login(sam)
    client.get(reverse("incidents:live", args=[incident.pk]))

    client.force_login(responder)
    state = client.get(reverse("incidents:live", args=[incident.pk])).json()
    assert state["here"] == ["Sam Lee"]
    client.force_login(sam)
    assert client.get(reverse("incidents:live", args=[incident.pk])).json()["here"] == [
        live.display_name(responder)
    ]
    live.presence_leave(incident.pk, sam)
    assert live.presence_list(incident.pk, exclude=responder) == []


def test_presence_without_redis_uses_the_cache(settings, responder):
    settings.REDIS_URL = None
    incident = declare(responder)
    lee = UserFactory(first_name="Lee", last_name="Park", role="responder")
    assert live.presence_touch(incident.pk, lee) is True
    assert live.presence_touch(incident.pk, lee) is False
    assert live.presence_list(incident.pk, exclude=responder) == ["Lee Park"]
    assert live.presence_list(incident.pk, exclude=lee) == []


# Streams: bounded -----------------------------------------------------------------------------


def test_a_stream_over_the_cap_is_refused_with_retry_after(client, settings, responder):
    settings.KEEL_LIVE_MAX_STREAMS = 0
    incident = declare(responder)
    client.force_login(responder)
    before = live.stats()["refused_streams"]
    response = client.get(reverse("incidents:live_stream", args=[incident.pk]))
    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.KEEL_LIVE_POLL_SECONDS)
    assert live.stats()["refused_streams"] == before + 1


def test_a_stream_ends_after_its_lifetime_and_gives_its_slot_back(client, settings, responder):
    settings.KEEL_LIVE_STREAM_SECONDS = 1
    settings.KEEL_LIVE_HEARTBEAT_SECONDS = 1
    settings.KEEL_LIVE_MAX_STREAMS = 1
    incident = declare(responder)
    client.force_login(responder)
    url = reverse("incidents:live_stream", args=[incident.pk])

    response = client.get(url)
    assert live.stats()["open_streams"] == 1
    # A second stream while the first is open: over the cap of one.
    assert client.get(url).status_code == 503
    events = events_of(response)
    assert events[0] == ("hello", {"version": live.incident_version(incident.pk), "here": []})
    assert events[-1][0] == "bye"
    assert live.stats()["open_streams"] == 0


def test_a_reconnect_with_an_old_last_event_id_hears_changed_at_once(client, settings, responder):
    settings.KEEL_LIVE_STREAM_SECONDS = 1
    incident = declare(responder)
    client.force_login(responder)
    old = live.incident_version(incident.pk)
    services.note_add(incident=incident, text="Missed while reconnecting.", actor=responder)

    response = client.get(
        reverse("incidents:live_stream", args=[incident.pk]), headers={"Last-Event-ID": old}
    )
    names = [name for name, _ in events_of(response)]
    assert names[:2] == ["hello", "changed"]


def test_an_incident_stream_says_who_joins(client, settings, responder):
    settings.KEEL_LIVE_STREAM_SECONDS = 1
    incident = declare(responder)
    client.force_login(responder)
    response = client.get(reverse("incidents:live_stream", args=[incident.pk]))
    read = opened(response)
    sam = UserFactory(first_name="Sam", last_name="Lee", role="responder")
    live.presence_touch(incident.pk, sam)
    live.publish(incident.pk, private=False, what="presence")

    events = events_of(response, read=read)
    assert ("presence", {"here": ["Sam Lee"]}) in events


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stream_closed_before_it_started_gives_its_slot_back(client, settings, responder):
    """Transactional: closing a response closes the request's database connection."""
    settings.KEEL_LIVE_MAX_STREAMS = 1
    incident = declare(responder)
    client.force_login(responder)
    url = reverse("incidents:live_stream", args=[incident.pk])
    response = client.get(url)
    assert live.stats()["open_streams"] == 1
    response.close()  # what the server does when the client went away at once
    assert live.stats()["open_streams"] == 0
    assert client.get(url).status_code == 200
