"""docs/api.md's ``sh`` examples, run with curl against a live server: each block
exits 0 and each of its curl calls answers the status its ``# expect:`` line says."""

import re
import subprocess
from pathlib import Path

import pytest

from incidents import services as incident_services
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory, severity

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
# Each curl also writes its status to stderr, where the block's output is not.
CURL = "curl() { command curl -w '%{stderr}KEEL_STATUS=%{http_code}\\n' \"$@\"; }\n"


def blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def test_the_guide_has_examples_and_each_says_what_it_expects():
    found = blocks()
    assert len(found) >= 7
    for block in found:
        assert re.search(r"^# expect: [\d ]+$", block, re.M), block


@pytest.fixture
def guide_env(live_server):
    rita = UserFactory(username="rita", role="responder")
    service_user = UserFactory(username="alertmanager", role="responder")
    incident = incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV2"),
        services=[ServiceFactory(slug="checkout")],
        actor=rita,
    )
    return {
        "KEEL_URL": live_server.url,
        "KEEL_TOKEN": api_key(rita, scopes=["read", "write"]),
        "KEEL_READ_TOKEN": api_key(rita, scopes=["read"]),
        "KEEL_INTAKE_TOKEN": api_key(service_user, scopes=["intake"], kind="integration"),
        "INCIDENT": str(incident.pk),
        "PATH": "/usr/bin:/bin",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("index", range(len(blocks())))
def test_each_example_runs_and_answers_as_documented(guide_env, index, tmp_path):
    block = blocks()[index]
    expected = re.search(r"^# expect: ([\d ]+)$", block, re.M).group(1).split()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", CURL + block],
        env=guide_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    statuses = re.findall(r"KEEL_STATUS=(\d+)", done.stderr)
    assert done.returncode == 0, (block, done.stdout, done.stderr)
    assert statuses == expected, (block, done.stdout)
