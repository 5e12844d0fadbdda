"""`make prod-smoke` (deploy/prod_smoke.py) runs what docker-compose.yml runs: its plan
is read from the compose file, the Dockerfile and .env.example, and only what names the
containers' world is translated. These tests fail when one of those files grows
something the smoke would not translate, so the two cannot drift apart."""

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

import prod_smoke  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = "\n".join(p.read_text() for p in (ROOT / "config").rglob("*.py"))


@pytest.fixture
def plan(tmp_path):
    return prod_smoke.plan(tmp_path)


def test_every_compose_service_is_run_by_the_smoke_or_is_a_local_service():
    local = {"db", "redis"}  # the machine's PostgreSQL and Redis
    smoke = set(prod_smoke.APP_SERVICES) | {"statuspage"}
    assert set(COMPOSE["services"]) == local | smoke


def test_the_commands_are_compose_s_own_with_only_ports_and_paths_translated(plan, tmp_path):
    for name in prod_smoke.APP_SERVICES:
        expected = [
            part.replace("0.0.0.0:8000", f"127.0.0.1:{plan.web_port}").replace(
                "/data", str(tmp_path / "data")
            )
            for part in COMPOSE["services"][name]["command"]
        ]
        assert plan.commands[name] == expected
    dockerfile_cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert yaml.safe_load(dockerfile_cmd) == COMPOSE["services"]["web"]["command"]
    assert plan.build == [
        [
            "SECRET_KEY=build-only",
            "python",
            "manage.py",
            "collectstatic",
            "--no-input",
            "--verbosity",
            "0",
        ]
    ]


def test_every_container_path_and_host_is_translated(plan, tmp_path):
    for name, value in plan.environment.items():
        assert not re.match(r"^/(data|app)\b", value), f"{name}={value} names a container path"
        assert "@db:" not in value and "//redis:" not in value, f"{name}={value} names a container"
    for command in plan.commands.values():
        for part in command:
            assert not part.startswith(("/data", "/app")), f"{part} names a container path"
    assert plan.environment["KEEL_DATA_DIR"] == str(tmp_path / "data")
    assert plan.environment["STATIC_ROOT"] == str(tmp_path / "staticfiles")
    changed = {
        name
        for name, value in prod_smoke.env_file(ROOT / ".env.example").items()
        if plan.environment.get(name) != prod_smoke._translate(value, plan.paths)
    }
    # What the compose file itself sets over .env, and what the smoke says it changes.
    assert changed <= set(COMPOSE["x-app"]["environment"]) | set(prod_smoke.TRANSLATED)


def test_env_example_names_each_variable_once_and_every_one_is_read_by_the_settings():
    names = [
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"set twice in .env.example (the last one wins): {duplicates}"
    # Read by config/ by name; NAME_WORKER through the per-role helper reading NAME.
    unread = [
        n
        for n in names
        if f'"{n}"' not in SETTINGS_SOURCE
        and not (n.endswith("_WORKER") and f'"{n.removesuffix("_WORKER")}"' in SETTINGS_SOURCE)
    ]
    assert not unread, f".env.example names variables nothing reads: {unread}"


def test_the_nginx_config_is_the_one_compose_mounts(plan):
    assert plan.nginx_conf == ROOT / "deploy" / "nginx-statuspage.conf"


def test_the_healthcheck_the_smoke_waits_on_is_compose_s():
    test = COMPOSE["services"]["web"]["healthcheck"]["test"]
    assert test[0] == "CMD" and "127.0.0.1:8000/readyz" in test[-1]
