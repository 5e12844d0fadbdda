"""Validation messages name the field as the user sees it (the section's title, the row
counted from 1, the column's label), never an internal path; action item owners are
found by username or full name, and an ambiguous name lists who it could be."""

import pytest

from common.exceptions import InvalidInput
from postmortems import sections, services
from postmortems.models import ActionItem
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


def _save(pm, key, content, actor):
    pm.refresh_from_db()
    return services.section_save(
        postmortem=pm, key=key, content=content, expected_version=pm.version, actor=actor
    )


def _refusal(pm, key, content, actor) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        _save(pm, key, content, actor)
    return refused.value


def test_remediation_messages_name_the_section_as_titled(rita):
    pm = started_postmortem(actor=rita)
    title = pm.sections.get(key="remediations").title
    refusal = _refusal(pm, "remediations", {"rows": [{"title": "Roll back", "chosen": True}]}, rita)
    assert refusal.message == f"{title}: say why the chosen one was chosen."
    assert refusal.field == "remediations.rows"  # the API still gets the JSON path
    assert "rows" not in refusal.message


def test_row_and_column_are_named_as_in_the_editor(rita):
    pm = started_postmortem(actor=rita)
    metrics = pm.sections.get(key="metrics").title
    refusal = _refusal(
        pm,
        "metrics",
        {"rows": [{"name": "p99"}, {"name": "errors", "before": "lots"}]},
        rita,
    )
    assert refusal.message == f"{metrics}, row 2, Before: expected a number."
    assert refusal.field == "metrics.rows[1].before"
    refusal = _refusal(
        pm,
        "metrics",
        {"rows": [{"name": "p99", "series": [["2026-03-01T10:00:00Z", 1], ["soon", 2]]}]},
        rita,
    )
    assert refusal.message == (
        f"{metrics}, row 1, Series (CSV: time,value), point 2: expected an ISO 8601 date and time."
    )
    refusal = _refusal(pm, "metrics", {"rows": [{"unit": "ms"}]}, rita)
    assert refusal.message == f"{metrics}, row 1, Metric: required."


def test_every_message_of_the_kinds_is_worded_for_people():
    """No message of a kind's validation starts with a JSON path."""
    refused = []
    for kind in sections.SPECS:
        for content in ({"rows": "x"}, {"text": 5}, {"nope": 1}):
            try:
                sections.validate(kind, content, key="k", label="My section")
            except InvalidInput as exc:
                refused.append(exc.message)
    assert refused and all(message.startswith("My section") for message in refused)
    assert not any("k.rows" in message or "rows[" in message for message in refused)


def test_action_item_owner_by_username_or_full_name_and_ambiguity_lists_candidates(rita):
    UserFactory(username="skim", first_name="Sam", last_name="Kim", role="responder")
    UserFactory(username="sam.k", first_name="Sam", last_name="Kim", role="responder")
    lee = UserFactory(username="slee", first_name="Sam", last_name="Lee", role="responder")
    pm = started_postmortem(actor=rita)
    items = pm.sections.get(key="action_items").title
    _save(pm, "action_items", {"rows": [{"title": "Alert on 5xx", "owner": "sam lee"}]}, rita)
    assert ActionItem.objects.get().owner == lee
    item = ActionItem.objects.get()
    _save(
        pm,
        "action_items",
        {"rows": [{"id": item.pk, "title": "Alert on 5xx", "owner": "SLEE"}]},
        rita,
    )
    assert ActionItem.objects.get().owner == lee
    refusal = _refusal(
        pm,
        "action_items",
        {"rows": [{"id": item.pk, "title": "Alert on 5xx"}, {"title": "Canary", "owner": "Sam"}]},
        rita,
    )
    assert refusal.message == (
        f"{items}, row 2, Owner: nobody active is called 'Sam'; type a username or a full name."
    )
    assert refusal.field == "action_items.rows[1].owner"
    refusal = _refusal(
        pm, "action_items", {"rows": [{"title": "Canary", "owner": "Sam Kim"}]}, rita
    )
    assert refusal.message == (
        f"{items}, row 1, Owner: 'Sam Kim' could be Sam Kim (sam.k), Sam Kim (skim); "
        "type the username."
    )
    # The same rule where one item is written alone (the API, the action items page).
    with pytest.raises(InvalidInput, match=r"^Action item, Owner: 'Sam Kim' could be"):
        services.action_item_update(item=item, actor=rita, data={"owner": "Sam Kim"})
