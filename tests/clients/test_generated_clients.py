"""Clients generated from the live schema work: a Python client (openapi-python-client)
drives a real server through a whole incident (tests/clients/walk.py), and a
TypeScript one (openapi-typescript) type-checks a usage file with ``tsc --noEmit``.

The schema is what ``manage.py spectacular`` writes; the Python client is generated
into a temporary directory and imported by a separate process, as an integrator
would; the server is pytest-django's live server on the test database.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from incidents.lifecycle import ORDER
from incidents.models import Incident, TimelineEvent
from postmortems.models import Postmortem
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory

pytestmark = pytest.mark.clients

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
# Pinned: a new major of either could change the generated code under the walk.
NPM_PACKAGES = ["openapi-typescript@7.13.0", "typescript@5.9.3"]
NPM_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED", "ECONNRESET")


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory, django_db_blocker) -> Path:
    path = tmp_path_factory.mktemp("schema") / "keel-openapi.json"
    with django_db_blocker.unblock():
        call_command("spectacular", "--file", str(path), "--format", "openapi-json", "--validate")
    return path


def _run(command: list[str], *, cwd: Path, env: dict | None = None, timeout: int = 120):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def python_client(schema_file, tmp_path_factory) -> Path:
    """The generated package ``keel_client``, in a directory to put on PYTHONPATH."""
    out = tmp_path_factory.mktemp("python-client")
    config = out / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the code is used, not read
    generated = _run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(schema_file),
            "--meta",
            "none",
            "--output-path",
            str(out / "keel_client"),
            "--config",
            str(config),
        ],
        cwd=out,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # A warning means a piece of the schema could not be turned into code.
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    return out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_generated_python_client_walks_an_incident_to_close(python_client, live_server):
    rita = UserFactory(username="rita", role="responder")
    bob = UserFactory(username="bob", role="responder")
    ServiceFactory(name="Checkout", slug="checkout")
    env = {
        **os.environ,
        "PYTHONPATH": str(python_client),
        "KEEL_URL": live_server.url,
        "KEEL_TOKEN": api_key(rita),
        "KEEL_REVIEWER_TOKEN": api_key(bob),
        "KEEL_REVIEWER": "bob",
    }

    walked = _run([sys.executable, str(HERE / "walk.py")], cwd=python_client, env=env)

    assert walked.returncode == 0, walked.stdout + walked.stderr
    summary = json.loads(walked.stdout.strip().splitlines()[-1])
    assert summary["typed_errors"] == {"422": "unprocessable", "409": "illegal_stage_move"}
    assert summary["close_blockers"]  # the refused close named what was missing
    incident = Incident.objects.get(pk=summary["incident"])
    assert incident.closed_at is not None
    moves = incident.events.filter(kind=TimelineEvent.Kind.STAGE_MOVED)
    assert [event.data["to"] for event in moves.order_by("pk")] == ORDER[1:]
    assert Postmortem.objects.get(pk=summary["postmortem"]).status == Postmortem.Status.PUBLISHED
    assert incident.decisions.count() == 1
    messages = set(incident.status_updates.values_list("message", flat=True))
    assert {
        "Investigating checkout 502s.",
        "Some checkouts fail; we are investigating.",
        "Rolled back; error rate is normal.",
    } <= messages
    collections = summary["collections"]
    assert collections["incidents"] == {"pages": 2, "items": 3}
    assert collections["postmortems"] == {"pages": 1, "items": 1}
    assert collections["action_items"] == {"pages": 1, "items": 1}
    timeline = incident.events.count()
    assert collections["timeline"] == {"pages": (timeline + 1) // 2, "items": timeline}


USAGE_TS = """
import type { components, paths } from "./keel";

type Incident = components["schemas"]["IncidentOutput"];
type ApiError = components["schemas"]["Error"];
type IncidentPage =
  paths["/api/v1/incidents/"]["get"]["responses"][200]["content"]["application/json"];
type StageMove =
  paths["/api/v1/incidents/{id}/stage/"]["post"]["requestBody"]["content"]["application/json"];
type StageConflict =
  paths["/api/v1/incidents/{id}/stage/"]["post"]["responses"][409]["content"]["application/json"];
type ReusedKey =
  paths["/api/v1/incidents/"]["post"]["responses"][422]["content"]["application/json"];
type PageQuery = NonNullable<paths["/api/v1/postmortems/"]["get"]["parameters"]["query"]>;

const move: StageMove = { stage: "judge", note: "Scope known." };
const conflict: StageConflict = { detail: "The incident is closed.", code: "conflict", errors: {} };
const reused: ReusedKey = conflict;
const query: PageQuery = { page: 2, page_size: 50 };
const page: IncidentPage = { count: 0, next: null, previous: null, results: [] };

export function titles(p: IncidentPage): string[] {
  return p.results.map((incident: Incident) => incident.title);
}
export function explain(error: ApiError): string {
  return `${error.code}: ${error.detail} ${Object.keys(error.errors).join(", ")}`;
}
export const used = [move, reused, query, page];
"""

# Types that lie would let this compile: a stage that does not exist, a page
# without its envelope.
WRONG_TS = """
import type { paths } from "./keel";
type StageMove =
  paths["/api/v1/incidents/{id}/stage/"]["post"]["requestBody"]["content"]["application/json"];
type IncidentPage =
  paths["/api/v1/incidents/"]["get"]["responses"][200]["content"]["application/json"];
export const move: StageMove = { stage: "resolved" };
export const page: IncidentPage = [];
"""


@pytest.fixture(scope="module")
def npm_tools(tmp_path_factory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (CI installs it: .ci/run)")
    tools = tmp_path_factory.mktemp("ts-tools")
    installed = _run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", *NPM_PACKAGES],
        cwd=tools,
        timeout=240,
    )
    if installed.returncode != 0 and any(e in installed.stderr for e in NPM_NETWORK_ERRORS):
        pytest.skip(f"the npm registry is unreachable: {installed.stderr.strip()[:200]}")
    assert installed.returncode == 0, installed.stderr
    return tools


def test_a_typescript_client_generates_and_type_checks(schema_file, npm_tools, tmp_path):
    bin_dir = npm_tools / "node_modules" / ".bin"
    generated = _run(
        [str(bin_dir / "openapi-typescript"), str(schema_file), "-o", str(tmp_path / "keel.d.ts")],
        cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    tsc = [str(bin_dir / "tsc"), "--noEmit", "--strict", "--target", "es2020"]

    (tmp_path / "usage.ts").write_text(USAGE_TS)
    checked = _run([*tsc, "usage.ts"], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    (tmp_path / "wrong.ts").write_text(WRONG_TS)
    refused = _run([*tsc, "wrong.ts"], cwd=tmp_path)
    assert refused.returncode != 0
    # Both lines refused: the stage enum and the page envelope are real types.
    assert "wrong.ts(7," in refused.stdout and '"resolved"' in refused.stdout, refused.stdout
    assert "wrong.ts(8," in refused.stdout and "count, next, previous" in refused.stdout
