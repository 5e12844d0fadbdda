"""What the settings pages share: the test sends log shown under Slack, Email and
Destinations."""

from workspace import selectors

UNFINISHED = {"pending", "sending", "failed"}


def test_log() -> dict:
    rows = list(selectors.test_sends_recent())
    return {"test_sends": rows, "test_sends_pending": any(r.status in UNFINISHED for r in rows)}
