"""The one transition-table helper, and the three state machines that use it."""

import pytest

from common.exceptions import Conflict
from common.transitions import Transitions
from incidents import lifecycle
from postmortems import review
from postmortems.models import Postmortem
from statuspage import maintenance
from statuspage.models import MaintenanceStatus

TABLE = Transitions({"a": ("c", "b"), "b": ("a",), "c": ()})


def test_a_table_answers_in_its_own_order():
    assert TABLE.states == ["a", "b", "c"]
    assert TABLE.targets("a") == ["c", "b"]
    assert TABLE.allows("a", "b") and not TABLE.allows("b", "c")
    assert TABLE.targets("unknown") == [] and not TABLE.allows("unknown", "a")
    assert TABLE.is_final("c") and not TABLE.is_final("a")


def test_require_raises_the_machines_own_error():
    TABLE.require("a", "b", lambda: Conflict("never"))
    with pytest.raises(Conflict, match="b cannot go to c"):
        TABLE.require("b", "c", lambda: Conflict("b cannot go to c"))


def test_the_lifecycle_table_is_forward_moves_plus_reopen():
    for i, stage in enumerate(lifecycle.ORDER):
        expected = set(lifecycle.ORDER[i + 1 :])
        if stage == lifecycle.REOPEN_FROM:
            expected.add(lifecycle.REOPEN_TO)
        assert set(lifecycle.MOVES.targets(stage)) == expected
    assert lifecycle.MOVES.is_final(lifecycle.Stage.RETROSPECT)


def test_maintenance_and_postmortem_tables():
    status = MaintenanceStatus
    assert maintenance.FLOW.targets(status.SCHEDULED) == [status.IN_PROGRESS, status.CANCELLED]
    assert maintenance.FLOW.is_final(status.COMPLETED)
    assert maintenance.FLOW.is_final(status.CANCELLED)
    pm = Postmortem.Status
    assert review.FLOW.targets(pm.DRAFT) == [pm.IN_REVIEW]
    assert review.FLOW.targets(pm.IN_REVIEW) == [pm.DRAFT, pm.PUBLISHED]
    assert review.FLOW.is_final(pm.PUBLISHED)
