"""Test settings refuse any database that is not on this machine (seed 003)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.test import refuse_non_local_database

ROOT = Path(__file__).resolve().parents[2]
PG = "django.db.backends.postgresql"


def _db(db_host="", engine=PG, **options):
    conf = {"ENGINE": engine, "NAME": "keel", "HOST": db_host}
    if options:
        conf["OPTIONS"] = options
    return {"default": conf}


@pytest.mark.parametrize(
    "host",
    [
        "db.example.com",
        "10.1.2.3",
        "192.168.0.10",
        "0.0.0.0",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "localhost,db.example.com",
        "2001:db8::1",
    ],
)
def test_remote_hosts_are_refused(host):
    with pytest.raises(ImproperlyConfigured, match="refuse"):
        refuse_non_local_database(_db(host), environ={})


def test_the_refusal_names_the_alias_and_host():
    with pytest.raises(ImproperlyConfigured) as excinfo:
        refuse_non_local_database({"default": {"HOST": "db.example.com"}}, environ={})
    assert "'default'" in str(excinfo.value) and "db.example.com" in str(excinfo.value)


def test_every_alias_is_checked():
    databases = {**_db("localhost"), "replica": {"ENGINE": PG, "HOST": "replica.example.com"}}
    with pytest.raises(ImproperlyConfigured, match="replica"):
        refuse_non_local_database(databases, environ={})


@pytest.mark.parametrize(
    "host",
    [
        "",
        "localhost",
        "LOCALHOST",
        "127.0.0.1",
        "::1",
        " localhost ",
        "/var/run/postgresql",
        "/tmp",
        None,
    ],
)
def test_local_hosts_and_sockets_are_accepted(host):
    refuse_non_local_database(_db(host), environ={})


def test_sqlite_is_accepted():
    refuse_non_local_database(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/x.sqlite3"}}, environ={}
    )


@pytest.mark.parametrize(
    ("host", "options", "environ"),
    [
        ("", {"host": "db.example.com"}, {}),  # postgres://u@/x?host=db.example.com
        ("127.0.0.1", {"hostaddr": "10.0.0.1"}, {}),  # libpq connects to hostaddr
        ("", {}, {"PGHOST": "db.example.com"}),  # empty HOST falls back to PGHOST
        ("localhost", {}, {"PGHOSTADDR": "10.0.0.1"}),
        ("localhost", {"service": "prod"}, {}),
        ("localhost", {}, {"PGSERVICE": "prod"}),
    ],
)
def test_libpq_fallbacks_to_remote_hosts_are_refused(host, options, environ):
    with pytest.raises(ImproperlyConfigured, match="refuse"):
        refuse_non_local_database(_db(host, **options), environ=environ)


def test_pghost_is_ignored_when_the_url_names_a_local_host():
    refuse_non_local_database(_db("127.0.0.1"), environ={"PGHOST": "db.example.com"})
    refuse_non_local_database(_db("", host="/var/run/postgresql"), environ={"PGHOST": "x.y"})


def _import_test_settings(**env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "DATABASE_URL", "DJANGO_"))
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings.test"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "postgres://u@10.1.2.3/x"}, "10.1.2.3"),
        ({"DATABASE_URL": "postgres://u@db.example.com:5432/keel"}, "db.example.com"),
        ({"DATABASE_URL": "postgres://u@/x", "PGHOST": "10.9.8.7"}, "10.9.8.7"),
        ({"DATABASE_URL": "postgres://u@/x?host=10.4.4.4"}, "10.4.4.4"),
    ],
)
def test_importing_test_settings_with_a_remote_database_fails(env, named):
    # The refusal happens at import: nothing ever connects to these hosts.
    result = _import_test_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_importing_test_settings_with_a_local_database_works():
    result = _import_test_settings(DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    assert result.returncode == 0, result.stderr


def test_test_settings_point_at_test_databases(settings):
    conf = settings.DATABASES["default"]
    if conf["ENGINE"] == PG:
        assert conf["TEST"]["NAME"].startswith("keel_test")
    assert settings.REDIS_URL is None or settings.REDIS_URL.endswith(f"/{settings.TEST_REDIS_DB}")


def test_a_test_database_name_that_is_not_a_test_one_is_refused():
    result = _import_test_settings(
        DATABASE_URL="postgres://u@127.0.0.1:5432/keel", KEEL_TEST_DATABASE_NAME="keel"
    )
    assert result.returncode != 0
    assert "KEEL_TEST_DATABASE_NAME" in result.stderr
