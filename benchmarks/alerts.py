"""Alert intake benchmark: 10,000 alerts from 50 services, posted as Alertmanager
notifications to a live Keel (gunicorn, 2 workers x 4 threads) on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m benchmarks.alerts

The workload is Alertmanager's: 200 groups (``group_by: [alertname, service]``: 4 alert
rules x 50 services), 50 alerts each with Kubernetes-sized labels (~1 KiB), mixed
fingerprints. Each group is notified three times, as Alertmanager does while a group
fills up and then repeats: the first 25 alerts, then all 50 (25 new), then all 50
again (a repeat: nothing new). 600 notifications, 10,000 distinct alerts, 30,000 alerts
sent; 8 concurrent senders; each round is shuffled.

Reported: distinct alerts accepted per second (and notifications/s), latency p50/p99 per
notification, 5xx (must be 0), incidents created (must be 50: the groups of one
service correlate into one incident), and, as the reference measured in the same run on
the same server, ``GET /healthz`` under the same concurrency.

Environment: ``BENCH_PORT`` (default 19350), ``KEEL_TEST_DATABASE_NAME`` (default
``keel_test_w3_bench_alerts``; created and dropped), ``BENCH_SENDERS`` (8).
"""

import hashlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("KEEL_TEST_DATABASE_NAME", "keel_test_w3_bench_alerts")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "19350"))
SENDERS = int(os.environ.get("BENCH_SENDERS", "8"))
SERVICES = 50
RULES = ("KubePodCrashLooping", "HighErrorRate", "HighLatencyP99", "KubePodNotReady")
PER_GROUP = 50
EXTERNAL_URL = "http://alertmanager.bench:9093"


def _labels(rule: str, service: str, index: int) -> dict:
    from tests.incidents.alert_payloads import k8s_labels

    return k8s_labels(index, service=service, alertname=rule)


def _notification(rule: str, service: str, count: int) -> bytes:
    alerts = []
    for index in range(count):
        labels = _labels(rule, service, index)
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"{rule} on {service}", "description": "x" * 120},
                "startsAt": "2026-12-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.bench/graph?g0.expr=up",
                "fingerprint": hashlib.sha256(f"{rule}/{service}/{index}".encode()).hexdigest()[
                    :16
                ],
            }
        )
    body = {
        "receiver": "keel",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": rule, "service": service},
        "commonLabels": {"alertname": rule, "service": service, "severity": "critical"},
        "commonAnnotations": {"summary": f"{rule} on {service}"},
        "externalURL": EXTERNAL_URL,
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{rule}", service="{service}"}}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _sender(bodies: list[bytes], key: str, path: str, method: str = "POST"):
    connection_ = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    results = []
    for body in bodies:
        started = time.perf_counter()
        try:
            connection_.request(
                method,
                path,
                body=body if method == "POST" else None,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            response = connection_.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
            connection_.close()
            connection_ = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        results.append((status, time.perf_counter() - started))
    connection_.close()
    return results


def _run(bodies: list[bytes], key: str, path: str, method: str = "POST"):
    shares = [bodies[n::SENDERS] for n in range(SENDERS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        results = [
            r for part in pool.map(lambda s: _sender(s, key, path, method), shares) for r in part
        ]
    return results, time.perf_counter() - started


def _report(name: str, results, seconds: float) -> dict:
    latencies = sorted(latency * 1000 for _, latency in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    figures = {
        "requests": len(results),
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(results) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(p99, 1),
        "5xx": sum(1 for status, _ in results if status >= 500 or status == 0),
        "non_200": sum(1 for status, _ in results if status != 200),
    }
    print(f"{name}: {json.dumps(figures)}")
    return figures


def main() -> int:
    from django.test.utils import setup_test_environment

    from incidents.intake import sources
    from incidents.intake.models import AlertGroup
    from incidents.models import Incident, Service
    from tests.factories.incidents import UserFactory

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    db = connection.settings_dict
    server = None
    try:
        services = [f"svc-{n:02d}" for n in range(SERVICES)]
        Service.objects.bulk_create(Service(name=s, slug=s) for s in services)
        admin = UserFactory(username="bench-admin", role="admin")
        _source, key = sources.alert_source_create(kind="alertmanager", name="bench", actor=admin)
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{db['PORT'] or 5432}/{db['NAME']}",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--config",
                "config/gunicorn.py",
                "--bind",
                f"127.0.0.1:{PORT}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _sender([b""], key, "/healthz", "GET")[0][0] == 200:
                break
            time.sleep(0.5)
        groups = [(rule, service) for service in services for rule in RULES]
        rounds = []
        for count in (PER_GROUP // 2, PER_GROUP, PER_GROUP):
            bodies = [_notification(rule, service, count) for rule, service in groups]
            random.Random(count).shuffle(bodies)
            rounds.append(bodies)
        sizes = [len(body) for body in rounds[1]]
        print(
            f"{len(groups)} groups x {PER_GROUP} alerts, {SERVICES} services; body of a full "
            f"group {statistics.mean(sizes) / 1024:.0f} KiB; {SENDERS} senders"
        )
        reference, ref_seconds = _run([b""] * 600, key, "/healthz", "GET")
        ref = _report("reference GET /healthz", reference, ref_seconds)
        results, seconds = [], 0.0
        for bodies in rounds:
            part, took = _run(bodies, key, "/api/v1/integrations/alertmanager/")
            results += part
            seconds += took
        intake = _report("alert intake (600 notifications)", results, seconds)
        distinct = sum(len(group.fingerprints) for group in AlertGroup.objects.all())
        incidents = Incident.objects.count()
        figures = {
            "distinct_alerts_accepted": distinct,
            "alerts_per_s": round(distinct / seconds, 1),
            "alerts_sent_per_s": round(len(groups) * PER_GROUP * 2.5 / seconds, 1),
            "incidents_created": incidents,
            "expected_incidents": SERVICES,
            "reference_healthz_p99_ms": ref["p99_ms"],
            **intake,
        }
        print(json.dumps(figures, indent=2))
        ok = intake["5xx"] == 0 and incidents == SERVICES and distinct == len(groups) * PER_GROUP
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
