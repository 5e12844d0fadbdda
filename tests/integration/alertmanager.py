"""A real Prometheus Alertmanager (Debian ``prometheus-alertmanager``) on loopback,
configured by the test, posting its webhook to a live Keel."""

import json
import shutil
import socket
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.conftest import require_service
from tests.integration.conftest import wait_for

# This helper's port range on the shared machine (BRIEF: 19300-19399).
PORTS = iter(range(19310, 19400))


def loopback_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port left in 19310-19399")


def binary() -> str:
    path = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    require_service("prometheus-alertmanager (Debian package)", path is not None)
    return path


class Alertmanager:
    def __init__(self, *, webhook_url: str, key: str, tmp_path: Path, name: str, group_by):
        self.port = loopback_port()
        self.cluster_port = loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # As Alertmanager writes it in its payloads (no trailing slash).
        self.external_url = f"http://{name}.alertmanager.test:{self.port}"
        config = {
            "route": {
                "receiver": "keel",
                "group_by": list(group_by),
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "keel",
                    "webhook_configs": [
                        {
                            "url": webhook_url,
                            "send_resolved": True,
                            "max_alerts": 0,
                            "http_config": {
                                "authorization": {"type": "Bearer", "credentials": key}
                            },
                        }
                    ],
                }
            ],
        }
        directory = tmp_path / name
        directory.mkdir()
        (directory / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.log_path = directory / "alertmanager.log"
        self.process = subprocess.Popen(
            [
                binary(),
                f"--config.file={directory / 'alertmanager.yml'}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.external_url}",
                f"--cluster.listen-address=127.0.0.1:{self.cluster_port}",
                "--log.level=debug",
            ],
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._ready, timeout=30, what=f"alertmanager {name} ready")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def post_alerts(self, alerts: list[dict], *, resolved: bool = False) -> None:
        """Fire (or resolve: ``endsAt`` in the past) ``alerts`` (each ``{"labels": ...}``)."""
        now = datetime.now(UTC)
        body = []
        for alert in alerts:
            item = {
                "labels": alert["labels"],
                "annotations": alert.get("annotations", {"summary": "pods crash looping"}),
                "startsAt": (now - timedelta(minutes=5)).isoformat(),
                "generatorURL": "http://prometheus.test/graph",
            }
            if resolved:
                item["endsAt"] = (now - timedelta(seconds=1)).isoformat()
            body.append(item)
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
