"""Fixtures for stalled-dependency tests: a freezable TCP proxy in front of the
test database, a live web server (gunicorn, the production server) pointed at
it, and the record each fault test leaves for docs/reliability.md.

Nothing here stops, freezes or reconfigures the shared PostgreSQL or Redis: the
proxy and the spare Redis (``spare_redis``) belong to the test.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection

from tests.integration.conftest import ROOT, _accepts, free_port, wait_for

RESULTS_DIR = Path(os.environ.get("KEEL_FAULT_RESULTS_DIR", ROOT / "data" / "reliability"))


class TcpProxy:
    """``python -m tests.integration.tcp_proxy`` on a free port; freeze() is SIGSTOP."""

    def __init__(self, target_port: int, log_path: Path):
        self.port = free_port()
        self.target_port = target_port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "TcpProxy":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.tcp_proxy",
                str(self.port),
                "127.0.0.1",
                str(self.target_port),
            ],
            cwd=ROOT,
            stdout=self.log_path.open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: _accepts(self.port), timeout=10, what=f"the proxy on {self.port}")
        return self

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def pg_proxy(postgres_only, tmp_path):
    port = int(connection.settings_dict.get("PORT") or 5432)
    proxy = TcpProxy(port, tmp_path / "pg-proxy.log").start()
    yield proxy
    proxy.stop()


class LiveWeb:
    """gunicorn serving Keel with the test settings, its own data dir and env."""

    def __init__(self, env: dict, log_path: Path, *, workers: int = 1):
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "LiveWeb":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--config",
                "config/gunicorn.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                "8",
                "--timeout",
                "30",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.get("/healthz", timeout=2)[0] == 200, timeout=60, what="gunicorn")
        return self

    def request(self, method: str, path: str, *, body=None, headers=None, timeout: float = 30):
        """``(status, headers, body_bytes, seconds)``; never raises on an HTTP error status."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Host", "127.0.0.1")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, head, content = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, head, content = error.code, dict(error.headers), error.read()
        except OSError:
            return 0, {}, b"", time.monotonic() - started
        return status, head, content, time.monotonic() - started

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)[:3]

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
def start_web(integration_services, tmp_path, settings):
    """``start_web(db_port=..., redis_url=...)`` → a running LiveWeb on the test database.

    It shares this test's data dir, so a status page snapshot published here is the
    one it serves."""
    servers: list[LiveWeb] = []
    db = connection.settings_dict
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    settings.STATUSPAGE_SNAPSHOT_DIR = data_dir / "statuspage"

    def start(
        *, db_port: int | None = None, redis_url: str | None = None, workers: int = 1, **extra
    ) -> LiveWeb:
        port = db_port or db["PORT"] or 5432
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}",
            "REDIS_URL": redis_url or settings.REDIS_URL,
            "KEEL_DATA_DIR": str(data_dir),
            "STATUSPAGE_SNAPSHOT_DIR": str(data_dir / "statuspage"),
            "KEEL_WEBHOOKS_ALLOW_PRIVATE": "1",
            # The tests read /readyz's details from loopback (as an operator's probe would).
            "KEEL_OPS_ALLOW_CIDRS": "127.0.0.1/32,::1/128",
            "LOG_LEVEL": "WARNING",
            # The production web bounds (the test process itself runs with longer ones).
            "DB_STATEMENT_TIMEOUT_MS": "10000",
            **extra,
        }
        server = LiveWeb(env, tmp_path / f"web-{len(servers)}.log", workers=workers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def record_fault(name: str, **figures) -> None:
    """Leave one fault's figures for ``benchmarks/faults_report.py`` (docs/reliability.md)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figures = {"fault": name, "recorded_at": datetime.now(UTC).isoformat(), **figures}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True))
