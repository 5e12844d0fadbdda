"""docs/changes.md's ``sh`` examples, run with curl against a live server, the way
tests/common/test_api_guide.py runs docs/api.md's; the CI snippets are checked to
post the fields the API takes."""

import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from incidents.change_serializers import ChangeInput
from incidents.models import Change
from tests.common.test_api_guide import CURL
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "changes.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


def test_each_sh_block_says_what_it_expects():
    found = blocks("sh")
    assert len(found) >= 3
    for block in found:
        assert re.search(r"^# expect: [\d ]+$", block, re.M), block


def test_the_ci_snippets_are_yaml_that_posts_the_api_fields():
    snippets = blocks("yaml")
    assert len(snippets) == 2
    for snippet in snippets:
        parsed = yaml.safe_load(textwrap.dedent(snippet))  # as pasted into a workflow
        assert parsed
        assert "/api/v1/changes/" in snippet and "Idempotency-Key" in snippet
        sent = set(re.findall(r'\\?"(\w+)\\?": ', snippet))
        assert sent and sent <= set(ChangeInput().fields), sent


@pytest.fixture
def guide_env(live_server):
    ServiceFactory(slug="checkout")
    ci_bot = UserFactory(username="ci-bot", role="responder")
    return {
        "KEEL_URL": live_server.url,
        "KEEL_CI_TOKEN": api_key(ci_bot, scopes=["intake"], kind="integration"),
        "KEEL_READ_TOKEN": api_key(ci_bot, scopes=["read"]),
        "PATH": "/usr/bin:/bin",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("index", range(len(blocks("sh"))))
def test_each_example_runs_and_answers_as_documented(guide_env, index, tmp_path):
    block = blocks("sh")[index]
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
    if index == 0:
        assert Change.objects.filter(source="github-actions").count() == 1
