"""Real worker processes against the real PostgreSQL and Redis.

Workers run ``celery -A config worker --beat`` in their own process group with
the test settings, pointed at the test database, the tests' Redis DB, the fake
Slack and short leases so the sweeper's recovery is observable in seconds.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.fakes.slack import FakeSlackServer
from tests.fakes.webhooks import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_SECONDS = 60


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--schedule",
                str(self.log_path.with_suffix(".beat")),
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: "ready." in self.log_path.read_text(),
            timeout=WORKER_READY_SECONDS,
            what=f"the worker to be ready (log: {self.log_path})",
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: the parent and its pool children."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def integration_services(postgres_only, redis_url):
    """PostgreSQL and Redis are required (skip, or fail under KEEL_REQUIRE_SERVICES=1)."""
    return redis_url


@pytest.fixture
def fake_slack_server(settings):
    with FakeSlackServer() as server:
        settings.SLACK_BOT_TOKEN = "xoxb-test-token"
        settings.SLACK_API_BASE_URL = server.base_url
        yield server


@pytest.fixture
def receiver(settings):
    from notifications.models import Destination

    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    with WebhookReceiver(secret=Destination.new_secret()) as server:
        yield server


@pytest.fixture
def use_broker():
    """Point this process's Celery producer at ``url`` (restored afterwards)."""
    from config.celery import app

    original = app.conf.broker_url

    def switch(url: str) -> None:
        app.conf.broker_url = url
        app.conf.broker_write_url = None
        app._pool = None
        app.amqp._producer_pool = None

    yield switch
    switch(original)


@pytest.fixture
def start_worker(integration_services, fake_slack_server, tmp_path):
    """``start_worker(redis_url=..., env={...})`` → a running WorkerProcess (``env``
    overrides the settings below); all are stopped at the end."""
    from config.celery import app

    workers: list[WorkerProcess] = []
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )

    def start(*, redis_url: str | None = None, env: dict | None = None) -> WorkerProcess:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or settings.REDIS_URL,
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_API_BASE_URL": fake_slack_server.base_url,
            "KEEL_OUTBOUND_TIMEOUT_SECONDS": "1",
            "KEEL_WEBHOOKS_ALLOW_PRIVATE": "1",
            "KEEL_DELIVERY_LEASE_SECONDS": "3",
            "KEEL_SWEEP_GRACE_SECONDS": "1",
            "KEEL_SWEEP_SECONDS": "1",
            "KEEL_DATA_DIR": str(tmp_path / "data"),
            **(env or {}),
        }
        worker = WorkerProcess(env, tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(worker)
        return worker

    app.control.purge()
    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def spare_redis(tmp_path):
    """A Redis of this test's own on a spare port, which the test may stop and restart."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()

    class SpareRedis:
        url = f"redis://127.0.0.1:{port}/0"
        process: subprocess.Popen | None = None

        def start(self):
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for(lambda: _accepts(port), timeout=10, what=f"redis on port {port}")

        def stop(self):
            if self.process and self.process.poll() is None:
                self.process.terminate()
                self.process.wait(timeout=10)

    redis = SpareRedis()
    redis.start()
    yield redis
    redis.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
