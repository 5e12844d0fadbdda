"""A chunked request body through a real gunicorn: read (up to the cap), never
silently empty.

Django sizes its input by Content-Length; a ``Transfer-Encoding: chunked``
request has none, so before ``RequestBodyLimitMiddleware`` read it, every view saw
an empty body. The Slack command endpoint shows it without a database: it checks
the signature over the body it was given, so an empty body is a 401 and the real
body is the usage text.
"""

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notifications.slack import inbound
from tests.integration.conftest import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SECRET = "chunked-s3cret"


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "KEEL_EMBEDDED": "1",
        "KEEL_DATA_DIR": str(tmp_path),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SLACK_SIGNING_SECRET": SECRET,
        "KEEL_MAX_BODY_BYTES": "4096",
    }
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: _accepts(port), timeout=60, what="gunicorn listening")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def _accepts(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        return True
    except OSError:
        return False


def _post_chunked(port: int, body: bytes, headers: dict) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", "/integrations/slack/commands/")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    for start in range(0, len(body), 100):
        chunk = body[start : start + 100]
        connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    return response.status, response.read()


def _signed(body: bytes) -> dict:
    timestamp = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": inbound.sign(secret=SECRET, timestamp=timestamp, body=body),
    }


def test_a_chunked_body_reaches_the_view(gunicorn):
    body = b"command=%2Fincident&text=help&team_id=T1&user_id=U1&pad=" + b"x" * 500
    status, content = _post_chunked(gunicorn, body, _signed(body))
    assert status == 200, content
    assert b"/incident declare" in content  # the usage text: the body was read and verified


def test_a_chunked_body_over_the_cap_is_a_413(gunicorn):
    body = b"command=%2Fincident&text=help&pad=" + b"x" * 5000
    status, content = _post_chunked(gunicorn, body, _signed(body))
    assert status == 413, content
