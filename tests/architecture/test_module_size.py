"""Modules say what they own: none of the apps' modules grows past 500 lines unless it
is named here with the reason (issue 13)."""

from tests.architecture.source import ROOT, source_files

LIMIT = 500
# Each with its reason, also in the module's docstring.
LONGER_ON_PURPOSE = {
    "config/settings/base.py": "the one flat list of settings and their environment variables",
}


def test_no_module_is_over_500_lines_without_a_stated_reason():
    too_long = {}
    for path in source_files():
        name = str(path.relative_to(ROOT))
        lines = len(path.read_text().splitlines())
        if lines > LIMIT and name not in LONGER_ON_PURPOSE:
            too_long[name] = lines
    assert too_long == {}, f"split these by what they own, or state why not: {too_long}"


def test_the_reasons_are_in_the_modules_themselves():
    for name in LONGER_ON_PURPOSE:
        assert "500-line rule on purpose" in (ROOT / name).read_text()
