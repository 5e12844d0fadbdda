"""Cross-process delivery of live updates through Redis pub/sub: a stream held by a
second web process (a real ``runserver`` on its own port) hears of a note written
by this process, the way a change made through one gunicorn worker reaches a page
whose stream another worker holds."""

import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from incidents import live, services
from tests.factories.incidents import UserFactory, severity
from tests.integration.conftest import _accepts, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]
PORT = 19_271  # w2's range (19200-19299)


@pytest.fixture
def second_web_process(integration_services, tmp_path, settings):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "KEEL_DATA_DIR": str(tmp_path / "data"),
        "KEEL_LIVE_HEARTBEAT_SECONDS": "1",
        "KEEL_LIVE_STREAM_SECONDS": "30",
    }
    log = (tmp_path / "web.log").open("a")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _accepts(PORT), timeout=60, what="the second web process")
        yield PORT
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def read_event(response, wanted: str) -> dict:
    """Read the stream until an event named ``wanted``; its data."""
    event = None
    while True:
        line = response.fp.readline().decode()
        assert line, f"the stream ended before {wanted!r}"
        line = line.rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event == wanted:
            return json.loads(line[len("data: ") :])


def test_a_note_written_here_reaches_a_stream_held_by_another_process(second_web_process):
    rita = UserFactory(username="rita", role="responder")
    incident = services.incident_declare(
        title="Checkout returns 500", severity=severity("SEV2"), actor=rita
    )
    browser = Client()
    browser.force_login(rita)
    session = browser.cookies["sessionid"].value

    stream = http.client.HTTPConnection("127.0.0.1", second_web_process, timeout=20)
    stream.request(
        "GET",
        f"/incidents/{incident.pk}/live/stream/",
        headers={"Cookie": f"sessionid={session}", "Accept": "text/event-stream"},
    )
    response = stream.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    hello = read_event(response, "hello")
    assert hello["version"] == live.incident_version(incident.pk)

    # Committed here (this process publishes after commit); heard over there.
    services.note_add(incident=incident, text="Rolled back to 1.41.", actor=rita)
    changed = read_event(response, "changed")
    assert changed["version"] == live.incident_version(incident.pk) != hello["version"]
    stream.close()
