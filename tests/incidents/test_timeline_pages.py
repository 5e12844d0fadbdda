"""The incident page shows the latest timeline events; older ones come on demand.

A long incident (thousands of events) keeps a small page with a fixed number of
queries; "Show older" walks back through every event once, without gaps.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import TimelineEvent
from incidents.presenters import TIMELINE_MAX, TIMELINE_PAGE
from tests.factories.incidents import IncidentFactory, TimelineEventFactory, severity

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
EVENT_ID = re.compile(r'id="event-(\d+)"')


def declare(actor, **kwargs):
    return services.incident_declare(
        title="Checkout errors", severity=severity("SEV3"), actor=actor, **kwargs
    )


def add_notes(incident, count: int, *, actor) -> list[TimelineEvent]:
    """``count`` notes, one a second before now, some sharing a timestamp (the
    order falls back to the id)."""
    start = timezone.now() - timedelta(hours=2)
    return TimelineEvent.objects.bulk_create(
        TimelineEventFactory.build(
            incident=incident,
            actor=actor,
            text=f"note {number}",
            occurred_at=start + timedelta(seconds=number // 2),
        )
        for number in range(count)
    )


def shown_ids(response) -> list[int]:
    return [int(pk) for pk in EVENT_ID.findall(response.content.decode())]


def newest_first(incident) -> list[int]:
    return list(
        TimelineEvent.objects.filter(incident=incident)
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)
    )


def detail(client, incident, **params):
    return client.get(reverse("incidents:detail", args=[incident.pk]), params)


def older(client, incident, **params):
    return client.get(reverse("incidents:timeline_older", args=[incident.pk]), params, headers=HTMX)


def count_queries(client, incident) -> int:
    detail(client, incident)
    with CaptureQueriesContext(connection) as queries:
        response = detail(client, incident)
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_the_page_shows_the_latest_events_newest_first_and_offers_older_ones(client, responder):
    incident = declare(responder)
    add_notes(incident, 300, actor=responder)
    client.force_login(responder)

    response = detail(client, incident)

    assert shown_ids(response) == newest_first(incident)[:TIMELINE_PAGE]
    assert "Show older events" in response.content.decode()
    assert response.context["timeline_page"].has_older


def test_a_short_timeline_has_no_show_older(client, responder):
    incident = declare(responder)
    add_notes(incident, 3, actor=responder)
    client.force_login(responder)

    response = detail(client, incident)

    assert shown_ids(response) == newest_first(incident)
    assert "Show older events" not in response.content.decode()


def test_the_page_makes_as_many_queries_for_3_as_for_3000_events(client, responder):
    client.force_login(responder)
    small = declare(responder)
    add_notes(small, 3, actor=responder)
    big = declare(responder)
    add_notes(big, 3000, actor=responder)

    assert count_queries(client, big) == count_queries(client, small)


def test_show_older_walks_back_through_every_event_once(client, responder):
    incident = declare(responder)
    add_notes(incident, 2 * TIMELINE_PAGE + 7, actor=responder)
    client.force_login(responder)
    seen = shown_ids(detail(client, incident))
    before, shown = seen[-1], len(seen)

    while True:
        response = older(client, incident, before=before, shown=shown)
        assert response.status_code == 200
        page = shown_ids(response)
        assert len(page) <= TIMELINE_PAGE
        seen += page
        shown += len(page)
        if not response.context["timeline_page"].has_older:
            break
        assert f"shown={shown}" in response.content.decode()
        before = page[-1]

    assert seen == newest_first(incident)
    assert "Show older events" not in response.content.decode()
    assert "<html" not in response.content.decode()


def test_the_older_events_of_a_big_timeline_cost_a_fixed_number_of_queries(
    client, responder, django_assert_max_num_queries
):
    incident = declare(responder)
    events = add_notes(incident, 3000, actor=responder)
    client.force_login(responder)
    detail(client, incident)

    # Session, user, groups, the incident, the cursor event, the page of events.
    with django_assert_max_num_queries(6):
        response = older(client, incident, before=events[1500].pk, shown=50)

    assert len(shown_ids(response)) == TIMELINE_PAGE


def test_the_page_comes_back_with_as_many_events_as_the_reader_had_loaded(client, responder):
    incident = declare(responder)
    add_notes(incident, 300, actor=responder)
    client.force_login(responder)

    assert len(shown_ids(detail(client, incident, shown=120))) == 120
    # The live refresh asks for the live region alone, with the count it holds.
    region = client.get(
        reverse("incidents:detail", args=[incident.pk]), {"shown": 150}, headers=HTMX
    )
    assert len(shown_ids(region)) == 150
    assert "<html" not in region.content.decode()


@pytest.mark.parametrize("asked", ["", "abc", "-5", "²", "99999999999", "3"])
def test_an_odd_count_shows_the_first_page(client, responder, asked):
    incident = declare(responder)
    add_notes(incident, 80, actor=responder)
    client.force_login(responder)

    assert len(shown_ids(detail(client, incident, shown=asked))) == TIMELINE_PAGE


def test_the_count_is_capped(client, responder):
    incident = declare(responder)
    add_notes(incident, TIMELINE_MAX + 20, actor=responder)
    client.force_login(responder)

    assert len(shown_ids(detail(client, incident, shown=5000))) == TIMELINE_MAX


def test_an_action_keeps_the_older_events_the_reader_loaded(client, responder):
    incident = declare(responder)
    add_notes(incident, 200, actor=responder)
    client.force_login(responder)

    response = client.post(
        reverse("incidents:note_add", args=[incident.pk]),
        {"note-text": "Rolled back.", "shown": "120"},
        headers=HTMX,
    )

    assert response.status_code == 200
    ids = shown_ids(response)
    assert len(ids) == 120
    assert ids == newest_first(incident)[:120]


@pytest.mark.parametrize("before", ["", "x", "1" * 30])
def test_older_without_a_cursor_is_a_clear_400(client, responder, before):
    incident = declare(responder)
    client.force_login(responder)

    response = older(client, incident, before=before)

    assert response.status_code == 400
    assert b"before" in response.content


def test_older_events_of_a_private_incident_are_not_shown_to_others(client, responder, viewer):
    incident = declare(responder, private=True)
    events = add_notes(incident, 80, actor=responder)
    client.force_login(viewer)

    assert older(client, incident, before=events[40].pk).status_code == 404


def test_a_cursor_of_another_incident_reads_as_the_latest(client, responder):
    incident = declare(responder)
    add_notes(incident, 80, actor=responder)
    other = TimelineEventFactory(incident=IncidentFactory())
    client.force_login(responder)

    response = older(client, incident, before=other.pk)

    assert shown_ids(response) == newest_first(incident)[:TIMELINE_PAGE]


def test_the_timeline_shows_no_template_comment_and_names_each_notes_author(client, responder):
    incident = declare(responder)
    add_notes(incident, 3, actor=responder)
    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "{#" not in page and "#}" not in page
    assert page.count('<span class="person" title="rita">') >= 3
    # Each note's controls: Edit and Strike through, their forms fetched on demand.
    assert page.count('class="note-control"') >= 3 and page.count('/strike/"') >= 2 * 3


def test_every_event_kind_is_written_with_its_values_escaped(client, responder):
    """The timeline is written in Python (incidents/templatetags/timeline_events.py):
    what an event carries (its text, its data, a strike's reason) is escaped as the
    template escaped it, whatever the kind."""
    incident = declare(responder)
    hostile = "<script>alert(1)</script>"
    Kind = TimelineEvent.Kind
    now = timezone.now()
    for kind, data, extra in [
        (Kind.STAGE_MOVED, {"from": hostile, "to": "propagate"}, {}),
        (Kind.STAGE_SKIPPED, {"from": "judge", "to": "share", "skipped": [hostile]}, {}),
        (Kind.REOPENED, {"from": hostile, "to": "judge"}, {}),
        (Kind.SLACK_MESSAGE, {"author": hostile}, {"source": "slack"}),
        (Kind.NOTE, {}, {"struck_at": now, "struck_by": responder, "struck_reason": hostile}),
    ]:
        TimelineEvent.objects.create(
            incident=incident, kind=kind, actor=responder, occurred_at=now, text=hostile,
            data=data, **extra,
        )  # fmt: skip
    client.force_login(responder)

    page = detail(client, incident).content.decode()

    assert hostile not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert page.count(f'<span class="stage-word">{escaped}</span>') == 2
    assert f'<span class="skipped">skipped {escaped}</span>' in page
    assert f'<p class="muted small">{escaped} wrote in Slack:</p>' in page
    assert f"<del>{escaped}</del>" in page
    assert f" — {escaped}</p>" in page
    assert page.count(f'<div class="prose">{escaped}</div>') == 4
