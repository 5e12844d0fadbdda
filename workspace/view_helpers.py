"""What the settings pages share: a service's refusal put on the form field it names,
and the test sends log shown under Slack, Email and Destinations."""

from common.exceptions import InvalidInput
from workspace import selectors

UNFINISHED = {"pending", "sending", "failed"}


def field_error(form, exc: InvalidInput) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def test_log() -> dict:
    rows = list(selectors.test_sends_recent())
    return {"test_sends": rows, "test_sends_pending": any(r.status in UNFINISHED for r in rows)}
