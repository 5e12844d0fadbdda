"""One owner per rule, checked in the source: only ``incidents.timeline`` writes
timeline rows (every app calls ``timeline_record`` with an event kind of its own), and
only ``common.roles`` refuses someone for their role (``require_admin``,
``require_responder``), and only the section classes (``postmortems/sections/``) decide
anything by a section's kind."""

import re
from pathlib import Path

from postmortems.models import SectionKind
from tests.architecture.source import ROOT, source_files

DIRECT_WRITE = re.compile(r"(?<!class )TimelineEvent(?:\.objects\.(?:create|bulk_create)|\()")
ROLE_REFUSAL = re.compile(r"Only (?:admins|responders and admins) can")
KIND_SWITCH = re.compile(
    r"(?:==|!=) *SectionKind\.|SectionKind\.\w+ *(?:==|!=)|\bin *[(\[{] *SectionKind|ROW_BACKED"
)
TEMPLATE_KIND_SWITCH = re.compile(r"kind *(?:==|!=) *['\"](?P<kind>\w+)['\"]")


def _lines(*, skip: Path):
    for path in source_files():
        if path == skip:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            yield f"{path.relative_to(ROOT)}:{number}: {line.strip()}", line


def test_only_incidents_timeline_writes_timeline_rows():
    skip = ROOT / "incidents" / "timeline.py"
    writers = [where for where, line in _lines(skip=skip) if DIRECT_WRITE.search(line)]
    assert writers == [], "write through incidents.timeline.timeline_record:\n" + "\n".join(writers)


def test_only_common_roles_refuses_for_a_role():
    refusals = [
        where
        for where, line in _lines(skip=ROOT / "common" / "roles.py")
        if ROLE_REFUSAL.search(line)
    ]
    assert refusals == [], "refuse through common.roles.require_admin / require_responder:\n" + (
        "\n".join(refusals)
    )


def test_only_the_section_classes_switch_on_a_section_kind():
    sections = ROOT / "postmortems" / "sections"
    switches = [
        where
        for where, line in _lines(skip=ROOT / "postmortems" / "models.py")
        if KIND_SWITCH.search(line) and not where.startswith("postmortems/sections/")
    ]
    for path in (ROOT / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in TEMPLATE_KIND_SWITCH.finditer(line):
                if match["kind"] in SectionKind.values:
                    switches.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert sections.is_dir()
    assert switches == [], "ask the section's class (postmortems.sections):\n" + "\n".join(switches)
