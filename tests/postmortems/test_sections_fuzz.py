"""Any JSON thrown at a section kind is either normalised or refused with InvalidInput."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.exceptions import InvalidInput
from postmortems import sections
from postmortems.models import SectionKind

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01 10:00", "2030-01-01", "", "1e308", "P1",
                     "done", "https://x.test", "javascript:alert(1)", "capacity"]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_names = {f.name for spec in sections.SPECS.values() for f in (*spec.fields, *spec.row_fields)}
field_names = st.sampled_from([*sorted(_names), "rows"])
contents = st.dictionaries(field_names, json_values, max_size=6)
row_contents = st.fixed_dictionaries(
    {"rows": st.lists(st.dictionaries(field_names, json_values, max_size=6), max_size=4)}
)


@pytest.mark.parametrize("kind", SectionKind.values)
@settings(max_examples=60, deadline=None)
@given(content=st.one_of(json_values, contents, row_contents))
def test_validate_never_crashes(kind, content):
    try:
        clean = sections.validate(kind, content)
    except InvalidInput:
        return
    json.dumps(clean, allow_nan=False)  # storable as JSON
    assert sections.validate(kind, clean) == clean  # normalising is idempotent
