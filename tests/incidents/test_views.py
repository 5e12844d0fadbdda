"""The server-rendered web UI, per role, with and without HTMX."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.lifecycle import ORDER, Outcome, Stage
from incidents.models import TITLE_MAX, Incident, RoleAssignment, TimelineEvent
from incidents.presenters import TIMELINE_PAGE
from notifications.models import Delivery
from notifications.services import update_post
from tests.factories.incidents import IncidentFactory, ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
Kind = TimelineEvent.Kind


def declare(actor, *, title="Checkout errors", code="SEV3", **kwargs) -> Incident:
    return services.incident_declare(title=title, severity=severity(code), actor=actor, **kwargs)


def move_through(incident, actor, *stages) -> Incident:
    for stage in stages:
        incident = services.incident_move(incident=incident, to=stage, actor=actor)
    return incident


def detail_url(incident) -> str:
    return reverse("incidents:detail", args=[incident.pk])


def action_url(name: str, incident) -> str:
    return reverse(f"incidents:{name}", args=[incident.pk])


@pytest.fixture
def incident(responder):
    return declare(responder, summary="Card payments fail.")


# Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("list", []),
        ("declare", []),
        ("detail", [1]),
        ("history", [1]),
        ("edit", [1]),
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, name, args):
    response = client.get(reverse(f"incidents:{name}", args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_posts_are_sent_to_the_login_page_and_write_nothing(client, incident):
    response = client.post(action_url("note_add", incident), {"note-text": "hello"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not incident.events.filter(kind=Kind.NOTE).exists()


def test_an_htmx_post_after_the_session_expired_reloads_to_the_login_page(client, incident):
    response = client.post(
        action_url("note_add", incident),
        {"note-text": "hello"},
        headers={**HTMX, "HX-Current-URL": f"http://testserver{detail_url(incident)}"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={detail_url(incident)}"
    assert not incident.events.filter(kind=Kind.NOTE).exists()


def test_the_login_page_signs_a_user_in(client, responder):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(
        reverse("login"), {"username": "rita", "password": "keel-test-pass"}, follow=True
    )
    assert response.redirect_chain == [(reverse("home"), 302), (reverse("incidents:list"), 302)]


def test_a_wrong_password_is_shown_on_the_login_page(client, responder):
    response = client.post(reverse("login"), {"username": "rita", "password": "wrong"})
    assert response.status_code == 200
    assert b"form-errors" in response.content


def test_the_nav_shows_role_appropriate_links(client, responder, viewer, admin_user):
    declare_url = reverse("incidents:declare").encode()

    client.force_login(viewer)
    page = client.get(reverse("incidents:list")).content
    assert declare_url not in page
    assert b"/admin/" not in page
    assert b"/api/docs/" in page
    assert b"viewer" in page

    client.force_login(responder)
    page = client.get(reverse("incidents:list")).content
    assert declare_url in page
    assert b"/admin/" not in page

    client.force_login(admin_user)
    page = client.get(reverse("incidents:list")).content
    assert declare_url in page
    assert b"/admin/" in page


def test_an_unknown_incident_renders_the_error_page(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("incidents:detail", args=[999_999]))
    assert response.status_code == 404
    assert "error.html" in [template.name for template in response.templates]


# Private incidents ------------------------------------------------------------------------


@pytest.fixture
def private_incident(responder):
    return declare(responder, title="Leaked credentials", private=True)


def test_private_incidents_are_hidden_from_non_participants(client, private_incident):
    outsider = UserFactory(role="responder")
    client.force_login(outsider)

    listing = client.get(reverse("incidents:list"))
    assert b"Leaked credentials" not in listing.content
    search = client.get(reverse("incidents:list"), {"q": "Leaked"})
    assert b"Leaked credentials" not in search.content
    by_number = client.get(reverse("incidents:list"), {"q": f"#{private_incident.pk}"})
    assert b"Leaked credentials" not in by_number.content

    assert client.get(detail_url(private_incident)).status_code == 404
    assert client.get(action_url("history", private_incident)).status_code == 404
    assert client.get(action_url("edit", private_incident)).status_code == 404
    note = client.post(action_url("note_add", private_incident), {"note-text": "peek"})
    assert note.status_code == 404


def test_private_incidents_are_visible_to_participants_and_admins(
    client, responder, admin_user, private_incident
):
    for user in (responder, admin_user):
        client.force_login(user)
        assert b"Leaked credentials" in client.get(reverse("incidents:list")).content
        page = client.get(detail_url(private_incident))
        assert page.status_code == 200
        assert b"Private" in page.content


# List -------------------------------------------------------------------------------------


def test_the_list_shows_each_incidents_essentials(client, viewer, responder):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    incident = declare(responder, title="Checkout 500s", code="SEV2", services=[checkout])
    client.force_login(viewer)

    response = client.get(reverse("incidents:list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"{incident.pk}</td>" in page
    assert "Checkout 500s" in page
    assert "SEV2" in page
    assert "Detect" in page
    assert "Checkout</td>" in page
    assert responder.get_full_name() in page
    assert "<time datetime=" in page


def test_the_list_filters_by_stage_severity_service_status_and_text(client, viewer, responder):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    judged = move_through(
        declare(responder, title="Judged one", code="SEV1", services=[checkout]),
        responder,
        Stage.JUDGE,
    )
    closed = move_through(
        declare(responder, title="Closed one", code="SEV4"), responder, "retrospect"
    )
    services.incident_close(incident=closed, actor=responder)
    declare(responder, title="Fresh one", code="SEV3")
    client.force_login(viewer)

    def titles(**params) -> set[str]:
        response = client.get(reverse("incidents:list"), params)
        assert response.status_code == 200
        return {
            title
            for title in ("Judged one", "Closed one", "Fresh one")
            if title in response.content.decode()
        }

    assert titles() == {"Judged one", "Closed one", "Fresh one"}
    assert titles(stage="judge") == {"Judged one"}
    assert titles(severity="SEV4") == {"Closed one"}
    assert titles(service="checkout") == {"Judged one"}
    assert titles(status="open") == {"Judged one", "Fresh one"}
    assert titles(status="closed") == {"Closed one"}
    assert titles(q="fresh") == {"Fresh one"}
    assert titles(q=f"#{judged.pk}") == {"Judged one"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"severity": "SEV9"}, "severity"),
        ({"stage": "panic"}, "stage"),
        ({"service": "no-such-service"}, "service"),
        ({"status": "maybe"}, "status"),
        ({"q": "x" * 5000}, "q"),
        ({"severity": "'; DROP TABLE incidents_incident; --"}, "severity"),
    ],
)
def test_bad_filter_values_show_form_errors_never_a_500(client, viewer, incident, params, field):
    client.force_login(viewer)
    response = client.get(reverse("incidents:list"), params)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert b"field-errors" in response.content
    # The invalid filter is ignored; the list still renders.
    assert b"Checkout errors" in response.content


@pytest.mark.parametrize("page", ["abc", "-1", "999"])
def test_an_out_of_range_page_shows_the_nearest_page(client, viewer, incident, page):
    client.force_login(viewer)
    response = client.get(reverse("incidents:list"), {"page": page})
    assert response.status_code == 200
    assert b"Checkout errors" in response.content


def test_the_list_is_paginated_fifty_a_page(client, viewer, responder):
    IncidentFactory.create_batch(51, created_by=responder)
    client.force_login(viewer)

    first = client.get(reverse("incidents:list"))
    second = client.get(reverse("incidents:list"), {"page": 2})
    older = client.get(reverse("incidents:list"), {"cursor": first.context["page"].next_cursor})

    assert len(first.context["page"].rows) == 50
    assert len(second.context["page"].rows) == 1
    assert older.context["page"].rows == second.context["page"].rows
    assert b'rel="next">Older' in first.content and b'rel="prev"' not in first.content
    assert b'rel="prev">' in older.content and b'rel="next"' not in older.content


@pytest.mark.parametrize("rows", [3, 300])
def test_the_list_makes_a_fixed_number_of_queries(
    client, viewer, responder, rows, django_assert_num_queries
):
    checkout, payments = ServiceFactory(), ServiceFactory()
    for incident in IncidentFactory.create_batch(rows, created_by=responder):
        incident.services.add(checkout, payments)
        incident.responders.add(viewer)
    client.force_login(viewer)
    # The first list a process renders also compiles the live version's query, once
    # (incidents.live._list_version_query): not a cost of this page.
    client.get(reverse("incidents:list"))

    # Session, user, groups, count, the page's keys, its rows (with their services),
    # the two filter selects' options; the deliveries not sent (the delivery problem
    # markers: none, so no paused channels or open breakers are read); one for the live
    # version token the page carries (incidents.live.list_version). A service is
    # counted on its links (selectors.incident_list_counted), its keys read apart; a
    # text search counts and takes the page's keys in one query.
    with django_assert_num_queries(10):
        response = client.get(reverse("incidents:list"), {"service": checkout.slug})
    assert response.content.decode().count('<tr class="is-open">') == min(rows, 50)
    with django_assert_num_queries(9):
        response = client.get(reverse("incidents:list"), {"q": "checkout errors"})
    assert response.content.decode().count('<tr class="is-open">') == min(rows, 50)
    with django_assert_num_queries(10):
        response = client.get(reverse("incidents:list"))

    assert response.content.decode().count('<tr class="is-open">') == min(rows, 50)


# Declare ----------------------------------------------------------------------------------


def test_a_responder_declares_an_incident_from_the_form(client, responder):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    client.force_login(responder)
    assert client.get(reverse("incidents:declare")).status_code == 200

    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Checkout 500s",
            "summary": "Payments fail",
            "severity": severity("SEV2").pk,
            "services": [checkout.pk],
            "started_at": "2020-01-01T10:00:00",
            "detection_source": "customer_report",
            "private": "on",
        },
    )

    incident = Incident.objects.get(title="Checkout 500s")
    assert response.status_code == 302
    assert response["Location"] == detail_url(incident)
    assert incident.severity.code == "SEV2"
    assert incident.private
    assert incident.detection_source == "customer_report"
    assert list(incident.services.all()) == [checkout]
    assert incident.started_at.year == 2020
    declared = incident.events.get(kind=Kind.DECLARED)
    assert declared.source == TimelineEvent.Source.WEB
    assert declared.actor == responder
    followed = client.get(response["Location"])
    assert f"Incident #{incident.pk} declared." in followed.content.decode()


def test_the_declare_form_lists_severities_with_their_definitions(client, responder):
    client.force_login(responder)
    page = client.get(reverse("incidents:declare")).content.decode()
    assert severity("SEV1").definition in page


def test_an_oversized_title_shows_a_field_error(client, responder):
    client.force_login(responder)
    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "x" * (TITLE_MAX + 1),
            "severity": severity("SEV3").pk,
            "detection_source": "internal",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["title"]
    assert f'maxlength="{TITLE_MAX}"'.encode() in response.content
    assert not Incident.objects.exists()


def test_a_domain_error_on_declare_is_shown_next_to_its_field(client, responder):
    client.force_login(responder)
    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Future",
            "severity": severity("SEV3").pk,
            "detection_source": "internal",
            "started_at": "2999-01-01T00:00:00",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["started_at"] == [
        "Impact cannot start after the incident was detected."
    ]


def test_viewers_cannot_declare(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("incidents:declare")).status_code == 403
    response = client.post(
        reverse("incidents:declare"),
        {"title": "Nope", "severity": severity("SEV3").pk, "detection_source": "internal"},
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_admins_can_declare(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("incidents:declare"),
        {"title": "By admin", "severity": severity("SEV4").pk, "detection_source": "internal"},
    )
    assert response.status_code == 302


# Incident page ----------------------------------------------------------------------------


def test_the_incident_page_shows_stepper_facts_timeline_decisions_and_roles(
    client, responder, viewer
):
    incident = declare(responder, title="Slow search", code="SEV2")
    incident = move_through(incident, responder, Stage.JUDGE)  # skips propagate
    services.decision_record(
        incident=incident,
        options=["Roll back", "Fix forward"],
        chosen="Roll back",
        rationale="Known good.",
        information="Errors began at the deploy.",
        actor=responder,
    )
    services.incident_assign_role(
        incident=incident, role=RoleAssignment.Role.COMMANDER, user=viewer, actor=responder
    )
    services.note_add(incident=incident, text="Looking at the logs.", actor=responder)
    client.force_login(viewer)

    response = client.get(detail_url(incident))

    assert response.status_code == 200
    steps = {step.stage: step.state for step in response.context["steps"]}
    assert steps == {
        "detect": "reached",
        "propagate": "skipped",
        "judge": "current",
        "recover": "pending",
        "analyze": "pending",
        "share": "pending",
        "retrospect": "pending",
    }
    page = response.content.decode()
    assert 'data-stage="propagate" data-state="skipped"' in page
    assert 'aria-current="step"' in page
    assert "skipped Propagate" in page  # the skip on the timeline
    assert "Looking at the logs." in page
    assert "Errors began at the deploy." in page
    assert "Time to detect" in page
    # Commander hand-off history: both holders, the first one ended.
    assignments = response.context["incident"].role_assignments.all()
    assert [(a.user, a.ended_at is not None) for a in assignments] == [
        (responder, True),
        (viewer, False),
    ]
    assert page.count("Incident commander") >= 2


# The rarely used actions: their disclosure on the page, the form fetched from the
# action's own URL when it opens (HTMX) or on a page of its own (without JavaScript).
ON_DEMAND = {
    "decision_record": ("decision-disclosure", "decision-form"),
    "close": ("close-disclosure", "close-form"),
    "stage_time_correct": ("correct-disclosure", "correct-form"),
    "role_assign": ("role-disclosure", "role-form"),
}


def test_viewers_see_no_action_forms(client, viewer, incident):
    client.force_login(viewer)
    page = client.get(detail_url(incident)).content.decode()
    for form_id in ("note-form", "move-form", "decision-form", "close-form", "role-form"):
        assert f'id="{form_id}"' not in page
    for disclosure, _ in ON_DEMAND.values():
        assert f'id="{disclosure}"' not in page
    assert action_url("edit", incident) not in page


@pytest.mark.parametrize("user_fixture", ["responder", "admin_user"])
def test_drivers_see_the_action_forms(client, request, incident, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    page = client.get(detail_url(incident)).content.decode()
    for form_id in ("note-form", "move-form"):
        assert f'id="{form_id}"' in page
    for name, (disclosure, form_id) in ON_DEMAND.items():
        assert f'id="{disclosure}"' in page and f'id="{form_id}"' not in page
        assert f'hx-get="{action_url(name, incident)}"' in page  # fetched when opened
        assert f'<a href="{action_url(name, incident)}">' in page  # without JavaScript
    assert action_url("edit", incident) in page


@pytest.mark.parametrize("name", ON_DEMAND)
def test_a_rarely_used_form_comes_alone_for_htmx_and_on_a_page_without(
    client, responder, incident, name
):
    client.force_login(responder)
    form_id = ON_DEMAND[name][1]

    fragment = client.get(action_url(name, incident), headers=HTMX)

    assert fragment.status_code == 200
    assert f'id="{form_id}"' in fragment.content.decode()
    assert 'hx-post="' in fragment.content.decode()  # into the page's live region
    assert "<html" not in fragment.content.decode()
    page = client.get(action_url(name, incident))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<html" in body and f'id="{form_id}"' in body
    assert 'hx-post="' not in body.split(f'id="{form_id}"')[1].split(">")[0]  # a plain POST
    assert f'action="{action_url(name, incident)}"' in body


def test_a_rarely_used_form_posted_with_errors_is_open_on_the_page(client, responder, incident):
    client.force_login(responder)
    response = client.post(action_url("stage_time_correct", incident), {}, headers=HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert '<details class="disclosure" id="correct-disclosure" open>' in page
    assert 'id="correct-form"' in page and 'id="close-form"' not in page


def test_the_move_select_offers_only_legal_targets(client, responder, incident):
    incident = move_through(incident, responder, Stage.RECOVER)
    client.force_login(responder)
    form = client.get(detail_url(incident)).context["move_form"]
    offered = [value for value, _ in form.fields["stage"].widget.choices]
    assert offered == ["judge", "analyze", "share", "retrospect"]


def test_the_move_select_starts_on_the_next_stage_never_on_a_reopen(client, responder, incident):
    incident = move_through(incident, responder, Stage.RECOVER)
    client.force_login(responder)
    page = client.get(detail_url(incident)).content.decode()
    assert '<option value="analyze" selected>Analyze</option>' in page
    assert '<option value="judge">Judge (reopen: the fix regressed)</option>' in page
    assert '<option value="retrospect">Retrospect (skips Analyze, Share)</option>' in page


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_a_skip_needs_confirmation_and_moves_nothing_without_it(
    client, responder, incident, headers
):
    incident = move_through(incident, responder, Stage.PROPAGATE, Stage.JUDGE)
    client.force_login(responder)
    events_before = incident.events.count()

    response = client.post(action_url("move", incident), {"move-stage": "share"}, headers=headers)

    assert response.status_code == 400
    assert response.context["move_form"].errors["confirm_skip"] == [
        "Moving to Share skips Recover and Analyze: their times stay empty. "
        "Tick “Confirm skipping stages” to move anyway."
    ]
    incident.refresh_from_db()
    assert incident.stage == Stage.JUDGE
    assert incident.events.count() == events_before

    response = client.post(
        action_url("move", incident), {"move-stage": "share", "move-confirm_skip": "on"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.stage == Stage.SHARE


def _busy_incident(responder, viewer, *, events: int, updates: int) -> Incident:
    """An incident with ``events`` notes (three written by the service, the rest as
    rows), a decision, a responder and ``updates`` status updates (their deliveries
    pending: no worker runs in the tests)."""
    incident = declare(responder, services=[ServiceFactory(), ServiceFactory()])
    for number in range(3):
        services.note_add(incident=incident, text=f"note {number}", actor=responder)
    start = timezone.now() - timedelta(hours=2)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=Kind.NOTE,
            actor=responder,
            text=f"note {number}",
            occurred_at=start + timedelta(seconds=number),
        )
        for number in range(events - 3)
    )
    services.decision_record(
        incident=incident, options=["a", "b"], chosen="a", rationale="r", actor=responder
    )
    services.incident_assign_role(
        incident=incident, role=RoleAssignment.Role.RESPONDER, user=viewer, actor=responder
    )
    for number in range(updates):
        update_post(incident=incident, message=f"update {number}", actor=responder)
    return incident


@pytest.mark.parametrize("events, updates", [(3, 1), (3000, 10)])
def test_the_incident_page_makes_a_fixed_number_of_queries(
    client, responder, viewer, events, updates, django_assert_num_queries
):
    incident = _busy_incident(responder, viewer, events=events, updates=updates)
    client.force_login(responder)

    # Eleven for the incident (session, user, groups; the incident; its services, the
    # duplicates, decisions and role assignments; every person they name with the
    # responders among them; the latest timeline events, the corrected stages), six
    # for the communications banner (the unsent deliveries, channel pauses, open
    # breakers, the troubled deliveries, routes, the updates' audiences); one for the
    # Overview's delivery problems (pauses and open breakers, read once for the
    # page); one for the live version token (incidents.live.incident_version); one
    # for the changes to its services before detection (incidents.changes.
    # changes_before); one for the postmortem button. The closing checks and the
    # people a role can go to are read by the forms fetched on demand, not by the page.
    with django_assert_num_queries(21):
        response = client.get(detail_url(incident))

    assert response.status_code == 200
    assert len(response.context["timeline"]) == min(events + 3 + updates, TIMELINE_PAGE)


def test_the_banner_reads_no_troubled_deliveries_when_every_one_was_sent(
    client, responder, viewer, django_assert_num_queries
):
    incident = _busy_incident(responder, viewer, events=3, updates=2)
    Delivery.objects.filter(update__incident=incident).update(status=Delivery.Status.SENT)
    client.force_login(responder)

    # The unsent deliveries are none: no breakers, no troubled deliveries read.
    with django_assert_num_queries(19):
        response = client.get(detail_url(incident))

    assert response.status_code == 200
    assert 'id="communications-banner"' not in response.content.decode()


def test_a_closed_incident_reads_no_update_cadence(
    client, responder, viewer, django_assert_num_queries
):
    incident = _busy_incident(responder, viewer, events=3, updates=0)
    services.incident_close(
        incident=incident, actor=responder, outcome=Outcome.FALSE_ALARM, note="The probe flapped."
    )
    Delivery.objects.filter(update__incident=incident).update(status=Delivery.Status.SENT)
    client.force_login(responder)

    # No unsent deliveries (no breakers, no troubled ones), no routes nor updates for
    # the overdue warnings: a closed incident is never overdue.
    with django_assert_num_queries(16):
        response = client.get(detail_url(incident))

    assert response.status_code == 200


def test_an_htmx_get_returns_only_the_live_region(client, viewer, incident):
    client.force_login(viewer)
    response = client.get(detail_url(incident), headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="incident-live"' in page
    assert "<html" not in page


# Actions ----------------------------------------------------------------------------------

VIEWER_FORBIDDEN_POSTS = [
    ("note_add", {"note-text": "hello"}),
    (
        "decision_record",
        {"decision-option_0": "a", "decision-chosen": "0", "decision-rationale": "r"},
    ),
    ("move", {"move-stage": "propagate"}),
    ("close", {}),
    ("role_assign", {"role-role": "scribe"}),
    ("responder_remove", {}),
    ("edit", {"title": "Hijacked"}),
]


@pytest.mark.parametrize("name, data", VIEWER_FORBIDDEN_POSTS)
def test_viewers_get_403_on_every_action(client, viewer, incident, name, data):
    client.force_login(viewer)
    events_before = incident.events.count()
    response = client.post(action_url(name, incident), data)
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.events.count() == events_before
    assert incident.stage == Stage.DETECT
    assert incident.title == "Checkout errors"


def test_viewers_cannot_open_the_edit_page(client, viewer, incident):
    client.force_login(viewer)
    assert client.get(action_url("edit", incident)).status_code == 403


def test_a_note_posts_and_redirects_back_with_a_message(client, responder, incident):
    client.force_login(responder)
    response = client.post(action_url("note_add", incident), {"note-text": "Rolled back."})
    assert response.status_code == 302
    assert response["Location"] == detail_url(incident)
    note = incident.events.get(kind=Kind.NOTE)
    assert (note.text, note.actor, note.source) == ("Rolled back.", responder, "web")
    assert b"Note added." in client.get(response["Location"]).content


def test_a_note_over_htmx_returns_the_live_region(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        action_url("note_add", incident), {"note-text": "Via HTMX."}, headers=HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert 'id="incident-live"' in page
    assert 'id="stepper"' in page
    assert "Via HTMX." in page
    assert "Note added." in page


def test_an_empty_note_shows_the_error_next_to_the_field(client, responder, incident):
    client.force_login(responder)
    response = client.post(action_url("note_add", incident), {"note-text": "   "}, headers=HTMX)
    assert response.status_code == 400
    assert response.context["note_form"].errors["text"]
    assert not incident.events.filter(kind=Kind.NOTE).exists()


def test_an_oversized_note_is_refused_by_the_form(client, responder, incident):
    client.force_login(responder)
    response = client.post(action_url("note_add", incident), {"note-text": "x" * 10_001})
    assert response.status_code == 400
    assert response.context["note_form"].errors["text"]


@pytest.mark.parametrize("user_fixture", ["responder", "admin_user"])
def test_drivers_move_an_incident_through_every_stage(client, request, incident, user_fixture):
    user = request.getfixturevalue(user_fixture)
    client.force_login(user)
    for stage in ORDER[1:]:
        response = client.post(action_url("move", incident), {"move-stage": stage, "move-note": ""})
        assert response.status_code == 302, response.content
    incident.refresh_from_db()
    assert incident.stage == Stage.RETROSPECT
    moves = incident.events.filter(kind=Kind.STAGE_MOVED)
    assert [event.data["to"] for event in moves] == ORDER[1:]
    assert {event.actor for event in moves} == {user}


def test_a_move_over_htmx_returns_the_updated_stepper_and_timeline(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        action_url("move", incident),
        {"move-stage": "recover", "move-confirm_skip": "on", "move-note": "Rolled back"},
        headers=HTMX,
    )
    assert response.status_code == 200
    steps = {step.stage: step.state for step in response.context["steps"]}
    assert steps["recover"] == "current"
    assert steps["propagate"] == steps["judge"] == "skipped"
    page = response.content.decode()
    assert 'data-kind="stage_skipped"' in page
    assert "Rolled back" in page
    assert "Moved to Recover." in page


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_an_illegal_move_shows_the_reason_with_409(client, responder, incident, headers):
    incident = move_through(incident, responder, Stage.JUDGE)
    client.force_login(responder)

    response = client.post(action_url("move", incident), {"move-stage": "detect"}, headers=headers)

    assert response.status_code == 409
    assert "Cannot move back from judge to detect" in response.content.decode()
    assert ("<html" in response.content.decode()) is not bool(headers)
    incident.refresh_from_db()
    assert incident.stage == Stage.JUDGE


def test_a_move_to_an_unknown_stage_is_a_form_error(client, responder, incident):
    client.force_login(responder)
    response = client.post(action_url("move", incident), {"move-stage": "panic"})
    assert response.status_code == 400
    assert response.context["move_form"].errors["stage"]


def test_a_reopen_is_offered_and_recorded(client, responder, incident):
    incident = move_through(incident, responder, Stage.RECOVER)
    client.force_login(responder)
    response = client.post(action_url("move", incident), {"move-stage": "judge"}, headers=HTMX)
    assert response.status_code == 200
    assert 'data-kind="reopened"' in response.content.decode()


def test_a_decision_is_recorded_from_option_rows_and_a_radio(client, responder, incident):
    client.force_login(responder)
    page = client.get(action_url("decision_record", incident), headers=HTMX).content.decode()
    assert page.count('name="decision-chosen"') == 4  # one radio per option row
    response = client.post(
        action_url("decision_record", incident),
        {
            "decision-option_0": "Roll back",
            "decision-option_1": "",
            "decision-option_2": "Fix forward",
            "decision-chosen": "0",
            "decision-rationale": "Known good build.",
            "decision-information": "5xx began at 14:02.",
        },
    )
    assert response.status_code == 302
    decision = incident.decisions.get()
    assert decision.options == ["Roll back", "Fix forward"]
    assert decision.information == "5xx began at 14:02."
    assert decision.decided_by == responder
    page = client.get(detail_url(incident)).content.decode()
    assert "Known good build." in page


def test_a_chosen_row_without_an_option_is_shown_next_to_chosen(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        action_url("decision_record", incident),
        {
            "decision-option_0": "A",
            "decision-option_1": "B",
            "decision-chosen": "3",
            "decision-rationale": "r",
        },
        headers=HTMX,
    )
    assert response.status_code == 400
    assert response.context["decision_form"].errors["chosen"] == [
        "The chosen row is empty: pick a row with an option."
    ]
    assert not incident.decisions.exists()


def test_closing_shows_the_blockers_and_refuses_with_409(client, responder):
    incident = move_through(declare(responder, code="SEV2"), responder, Stage.RETROSPECT)
    client.force_login(responder)

    form = client.get(action_url("close", incident), headers=HTMX).content.decode()
    assert "SEV2 requires a published postmortem before closing." in form

    response = client.post(action_url("close", incident), {"close-note": ""})
    assert response.status_code == 409
    assert "SEV2 requires a published postmortem" in response.content.decode()
    incident.refresh_from_db()
    assert incident.is_open


def test_an_incident_closes_when_its_rules_hold(client, responder):
    incident = move_through(declare(responder, code="SEV4"), responder, Stage.RETROSPECT)
    client.force_login(responder)
    response = client.post(action_url("close", incident), {"close-note": "Done."})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert not incident.is_open
    page = client.get(detail_url(incident)).content.decode()
    assert 'id="move-form"' not in page
    assert 'id="close-form"' not in page
    assert "Closed" in page


def test_roles_are_handed_off_and_responders_removed(client, responder, incident):
    commander = UserFactory(username="carol", role="responder")
    helper = UserFactory(username="hank", role="responder")
    client.force_login(responder)

    handed = client.post(
        action_url("role_assign", incident), {"role-role": "commander", "role-user": commander.pk}
    )
    added = client.post(
        action_url("role_assign", incident), {"role-role": "responder", "role-user": helper.pk}
    )
    assert handed.status_code == added.status_code == 302
    incident.refresh_from_db()
    assert incident.commander == commander
    assert list(incident.responders.all()) == [helper]

    removed = client.post(
        action_url("responder_remove", incident), {"remove-user": helper.pk}, headers=HTMX
    )
    assert removed.status_code == 200
    assert not incident.responders.exists()
    assert "hank is no longer a responder." in removed.content.decode()


def test_assigning_an_inactive_user_is_a_form_error(client, responder, incident):
    retired = UserFactory(role="responder")
    retired.is_active = False
    retired.save()
    client.force_login(responder)
    response = client.post(
        action_url("role_assign", incident), {"role-role": "scribe", "role-user": retired.pk}
    )
    assert response.status_code == 400
    assert response.context["role_form"].errors["user"]


# Edit and history -------------------------------------------------------------------------


def edit_data(incident, **changes) -> dict:
    """The edit form as the browser would post it unchanged, plus ``changes``."""
    data = {
        "title": incident.title,
        "summary": incident.summary,
        "severity": incident.severity_id,
        "started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "detection_source": incident.detection_source,
        "detected_before_customers": "unknown",
        "affected_features": "",
        "category": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_edit_form_changes_only_what_changed(client, responder, incident):
    client.force_login(responder)
    assert client.get(action_url("edit", incident)).status_code == 200

    response = client.post(
        action_url("edit", incident),
        edit_data(
            incident,
            title="Checkout 500s for cards",
            severity=severity("SEV1").pk,
            failure_patterns=["change", "cascading"],
            affected_users_percent="12.50",
        ),
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Checkout 500s for cards"
    assert incident.severity.code == "SEV1"
    assert incident.failure_patterns == ["change", "cascading"]
    assert incident.events.filter(kind=Kind.SEVERITY_CHANGED).count() == 1
    edited = incident.events.get(kind=Kind.FIELDS_CHANGED)
    assert set(edited.data["fields"]) == {"title", "failure_patterns", "affected_users_percent"}


def test_saving_an_unchanged_edit_form_writes_nothing(client, responder, incident):
    client.force_login(responder)
    history_rows = incident.history.count()
    response = client.post(action_url("edit", incident), edit_data(incident))
    assert response.status_code == 302
    assert incident.history.count() == history_rows
    assert not incident.events.filter(kind=Kind.FIELDS_CHANGED).exists()
    assert b"Nothing changed." in client.get(response["Location"]).content


def test_edit_errors_are_shown_next_to_their_fields(client, responder, incident):
    client.force_login(responder)
    oversized = client.post(action_url("edit", incident), edit_data(incident, title="x" * 201))
    assert oversized.status_code == 400
    assert oversized.context["form"].errors["title"]

    late_start = client.post(
        action_url("edit", incident), edit_data(incident, started_at="2999-01-01T00:00:00")
    )
    assert late_start.status_code == 400
    assert late_start.context["form"].errors["started_at"] == [
        "Impact cannot start after the incident was detected."
    ]
    incident.refresh_from_db()
    assert incident.title == "Checkout errors"


def test_the_history_tab_shows_who_changed_which_field(client, responder, viewer, incident):
    move_through(incident, responder, Stage.PROPAGATE)
    client.force_login(viewer)

    response = client.get(action_url("history", incident))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-field="stage"' in page
    assert "<del>Detect</del> → <ins>Propagate</ins>" in page
    assert ">rita</td>" in page
