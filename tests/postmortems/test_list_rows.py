"""The postmortem and action item lists' rows (postmortems.list_html, the API's plain
rows): escaped, what the template and the serializers wrote, the same rows for the
same readers, in a fixed small number of queries (issue 17)."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postmortems import selectors
from postmortems.models import ActionItem, ActionItemEvidence, Postmortem
from postmortems.serializers import ActionItemOutput, PostmortemListOutput
from tests.factories.incidents import IncidentFactory, TeamFactory, UserFactory, incidents_bulk
from tests.factories.postmortems import default_template, postmortems_bulk

pytestmark = pytest.mark.django_db

# Each list's queries (session or token, user, groups; then the list's own): tightened
# as the lists lost their joins and per-row queries.
QUERIES = {
    "/postmortems/": 6,  # + count, the page's keys, its rows
    "/postmortems/?q=checkout": 6,  # + count, the ranked rows
    "/postmortems/action-items/": 6,  # + count, the rows, completion by team
    "/api/v1/postmortems/": 6,
    "/api/v1/postmortems/?search=checkout": 6,
    "/api/v1/action-items/": 5,
}


def _postmortem(incident, *, title, author):
    return Postmortem.objects.create(
        incident=incident, template=default_template(), title=title, created_by=author
    )


@pytest.fixture
def listed():
    """A postmortem whose title and items need escaping, with every kind of cell."""
    author = UserFactory(username="author", role="responder")
    team = TeamFactory(name="Data & <Infra>", slug="data-infra")
    incident = IncidentFactory(created_by=author, title="Checkout <b>down</b>")
    postmortem = _postmortem(incident, title='<script>alert("pm")</script> retro', author=author)
    past = timezone.localdate() - timedelta(days=3)
    items = [
        ActionItem.objects.create(
            postmortem=postmortem,
            position=1,
            title="Add <i>retries</i> & jitter",
            owner=author,
            team=team,
            due_date=past,
            kind=ActionItem.Kind.PREVENT,
            tracker_url="https://acme.atlassian.net/browse/OPS-142",
        ),
        ActionItem.objects.create(
            postmortem=postmortem,
            position=2,
            title="Page on queue depth",
            kind=ActionItem.Kind.DETECT,
            tracker_url='https://example.com/x?a=1&b="2"',
        ),
        ActionItem.objects.create(
            postmortem=postmortem,
            position=3,
            title="Done already",
            kind=ActionItem.Kind.PROCESS,
            status=ActionItem.Status.DONE,
            due_date=past,
        ),
    ]
    ActionItemEvidence.objects.create(
        action_item=items[0],
        metric="error_rate",
        threshold=0.5,
        series=[[1, 0.1], [2, 0.2]],
        result=ActionItemEvidence.Result.VERIFIED,
        checked_at=timezone.now(),
        verified_at=timezone.now(),
    )
    return author, postmortem, items


def test_the_postmortem_rows_are_escaped(client, listed):
    author, postmortem, _ = listed
    client.force_login(author)
    page = client.get("/postmortems/").content.decode()
    assert '<script>alert("pm")</script>' not in page
    assert (
        f'<td data-label="Postmortem"><a href="/postmortems/{postmortem.pk}/">'
        "&lt;script&gt;alert(&quot;pm&quot;)&lt;/script&gt; retro</a></td>"
    ) in page
    assert f'<a href="/incidents/{postmortem.incident_id}/">#{postmortem.incident_id}</a>' in page
    assert '<span class="pm-status pm-status-draft">Draft</span>' in page
    assert '<td data-label="Started"><time datetime="' in page


def test_the_action_item_rows_are_escaped_and_show_every_cell(client, listed):
    author, postmortem, items = listed
    client.force_login(author)
    page = client.get("/postmortems/action-items/").content.decode()
    assert "<i>retries</i>" not in page and "Add &lt;i&gt;retries&lt;/i&gt; &amp; jitter" in page
    assert (
        '<a href="https://acme.atlassian.net/browse/OPS-142" rel="noopener noreferrer nofollow">'
        'Add &lt;i&gt;retries&lt;/i&gt; &amp; jitter</a> <span class="tag tracker">Jira OPS-142'
        "</span>"
    ) in page
    assert 'href="https://example.com/x?a=1&amp;b=&quot;2&quot;"' in page
    assert '<td data-label="Team">Data &amp; &lt;Infra&gt;</td>' in page
    assert '<td data-label="Owner">—</td>' in page and '<td data-label="Due">—</td>' in page
    assert page.count('<tr class="is-overdue">') == 1  # the done one is not overdue
    assert page.count('<span class="badge sev sev-1">Overdue</span>') == 1
    assert (
        f'<a href="/postmortems/action-items/{items[0].pk}/evidence/" class="evidence-link">'
        '<span class="evidence-state evidence-verified">✓ Verified</span></a>\n</td>'
    ) in page
    assert (
        f'<a href="/postmortems/action-items/{items[1].pk}/evidence/" class="evidence-link">'
        "Link a metric</a>\n</td>"
    ) in page
    assert '<td data-label="Evidence"><span class="muted">—</span>\n</td>' in page
    assert f'<a href="/postmortems/{postmortem.pk}/#section-action_items">#' in page


def test_the_api_rows_are_what_the_serializers_write(as_user, listed):
    author, postmortem, _ = listed
    client = as_user(author)
    with timezone.override("Europe/Paris"):
        body = client.get("/api/v1/action-items/").json()["results"]
        expected = ActionItemOutput(
            selectors.action_items_shown(user=author).order_by("due_date", "priority", "pk"),
            many=True,
        ).data
        assert body == [dict(row) for row in expected]
        listed_pms = client.get("/api/v1/postmortems/").json()["results"]
        searched = client.get("/api/v1/postmortems/?search=retro").json()["results"]
        queryset = Postmortem.objects.select_related("incident__severity").filter(pk=postmortem.pk)
        expected_pms = [dict(row) for row in PostmortemListOutput(queryset, many=True).data]
    assert listed_pms == expected_pms == searched
    assert body[0]["evidence"]["points"] == 2 and body[0]["tracker"]["key"] == "OPS-142"


def test_private_incidents_rows_are_listed_for_participants_only(client, as_user, admin_user):
    """An incident with no commander (the rule's nullable columns) stays hidden from a
    responder who takes no part in it, in every list and in completion by team."""
    author = UserFactory(username="author", role="responder")
    outsider = UserFactory(username="outsider", role="responder")
    helper = UserFactory(username="helper", role="responder")
    team = TeamFactory(name="Platform", slug="platform")
    secret = IncidentFactory(created_by=author, commander=None, private=True)
    secret.responders.add(helper)
    public = IncidentFactory(created_by=author)
    for incident in (secret, public):
        postmortem = _postmortem(incident, title=f"PM {incident.pk}", author=author)
        ActionItem.objects.create(postmortem=postmortem, title=f"Item {incident.pk}", team=team)

    def seen(user):
        api = as_user(user)
        return (
            sorted(row["incident"] for row in api.get("/api/v1/postmortems/").json()["results"]),
            sorted(row["incident"] for row in api.get("/api/v1/action-items/").json()["results"]),
            [(row.team, row.total) for row in selectors.completion_by_team(user=user)],
        )

    both = sorted([public.pk, secret.pk])
    everything = (both, both, [("Platform", 2)])
    assert seen(outsider) == ([public.pk], [public.pk], [("Platform", 1)])
    assert seen(author) == seen(helper) == seen(admin_user) == everything
    client.force_login(outsider)
    assert f"PM {secret.pk}" not in client.get("/postmortems/").content.decode()
    assert f"Item {secret.pk}" not in client.get("/postmortems/action-items/").content.decode()


@pytest.mark.parametrize("role", ["responder", "viewer"])
def test_the_lists_make_a_fixed_small_number_of_queries(client, as_user, role):
    user = UserFactory(username=f"the-{role}", role=role)
    author = UserFactory(username="author", role="responder")
    made = incidents_bulk(30, created_by=author)
    postmortems_bulk(made, created_by=author, items=2)
    ActionItem.objects.filter(postmortem__incident__in=made[:10]).update(due_date=date(2020, 1, 1))
    client.force_login(user)
    api = as_user(user)
    for url, limit in QUERIES.items():
        reader = api if url.startswith("/api/") else client
        reader.get(url)  # a token's first request in a minute also records its use
        with CaptureQueriesContext(connection) as captured:
            assert reader.get(url).status_code == 200
        assert len(captured.captured_queries) <= limit, (url, captured.captured_queries)
