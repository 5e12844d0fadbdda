"""One owner per rule, checked in the source: only ``incidents.timeline`` writes
timeline rows (every app calls ``timeline_record`` with an event kind of its own)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("common", "incidents", "postmortems", "notifications", "statuspage", "reports", "workspace")
DIRECT_WRITE = re.compile(r"(?<!class )TimelineEvent(?:\.objects\.(?:create|bulk_create)|\()")


def test_only_incidents_timeline_writes_timeline_rows():
    writers = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path == ROOT / "incidents" / "timeline.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if DIRECT_WRITE.search(line):
                    writers.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert writers == [], "write through incidents.timeline.timeline_record:\n" + "\n".join(writers)
