"""Fan-out benchmark: one status update to N webhook subscribers, end to end.

    .venv/bin/python benchmarks/fanout.py                 # 1,000 webhooks, 3 runs each
    .venv/bin/python benchmarks/fanout.py --write-docs after

What it does, all on 127.0.0.1:

1. Creates (if missing) and migrates its own PostgreSQL database ``keel_bench``
   and flushes its own Redis DB 14 — never the tests' DB 13 or DB 0.
2. Starts ``benchmarks/receiver.py`` (asyncio, one process): it verifies every
   Standard Webhooks signature with ``notifications.channels.webhook.verify``
   and records when it acknowledged each ``webhook-id``.
3. Sets up one Audience with N webhook Destinations (each its own secret and
   URL on the receiver) and an incident.
4. **Keel**: starts real Celery worker processes as production does
   (``celery -A config worker --loglevel INFO`` + the pool/concurrency flags
   below), warms them up, then per run posts ONE update through
   ``notifications.services.update_post`` and measures commit → the receiver's
   acknowledgement of the N-th unique webhook-id.
5. **Reference**: stops Keel's workers, starts the same worker command on the
   bare task in ``benchmarks/reference_tasks.py`` and fans out the same N
   signed POSTs (same body, same signing) as N tasks; same measurement from the
   first publish.

Deliveries/second = N / (commit → last ack). Duplicates = POSTs acknowledged
minus unique ids (must be 0). Targets (issue): all N delivered within 3 s of
commit, Keel's throughput ≥ 50 % of the reference's.

Every wait is bounded (``--timeout``); workers and the receiver run in their
own process groups and are stopped on exit.
"""

import argparse
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/keel_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
FORBIDDEN_REDIS_DBS = {0, 13}  # production default and the tests' DB
TARGET_SECONDS = 3.0
TARGET_RATIO = 0.5
AUDIENCE = "bench-webhooks"
WARMUP_AUDIENCE = "bench-warmup"
DOCS = ROOT / "docs" / "benchmarks.md"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--destinations", type=int, default=1000, help="webhook subscribers")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per side (median)")
    parser.add_argument(
        "--pool", default="prefork", help="celery worker --pool (prefork, threads, solo)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="celery worker --concurrency (default: prefork → nproc, threads → 8 x nproc)",
    )
    parser.add_argument("--loglevel", default="INFO", help="worker --loglevel (production: INFO)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run, at most")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--skip-reference", action="store_true", help="measure Keel only")
    parser.add_argument(
        "--write-docs",
        metavar="LABEL",
        help="write the results into docs/benchmarks.md under this label (e.g. before, after)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="print the log directory")
    args = parser.parse_args(argv)
    if args.concurrency is None:
        cores = os.cpu_count() or 1
        args.concurrency = 8 * cores if args.pool == "threads" else cores
    redis_db = int((urlsplit(args.redis_url).path or "/0").lstrip("/") or 0)
    if redis_db in FORBIDDEN_REDIS_DBS:
        parser.error(f"Redis DB {redis_db} belongs to the app or the tests; use another (14).")
    host = urlsplit(args.database_url).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"} or urlsplit(args.redis_url).hostname not in {
        "127.0.0.1",
        "localhost",
    }:
        parser.error("The benchmark runs against local services only.")
    if args.runs < 1 or args.destinations < 1:
        parser.error("--runs and --destinations must be positive")
    return args


# --- environment


def bench_env(args, data_dir: Path) -> dict:
    """The environment of this process and of every worker it starts."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "SECRET_KEY": "bench-only-secret-key",
        "KEEL_DATA_DIR": str(data_dir),
        # The receiver is on loopback, which the SSRF guard refuses by default.
        "KEEL_WEBHOOKS_ALLOW_PRIVATE": "1",
        "PYTHONPATH": str(ROOT),
    }


def database_name(args) -> str:
    return urlsplit(args.database_url).path.lstrip("/")


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"Refusing odd database name {name!r}")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def flush_redis(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.flushdb()  # DB 14 only: the URL's own database
    client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "notifications", "benchmarks", "config"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "commit": commit + (" + uncommitted changes" if dirty else ""),
    }


# --- processes


class Process:
    """A child in its own process group, with its output in a log file."""

    def __init__(self, cmd: list[str], *, env: dict, log: Path, ready: str):
        self.cmd, self.env, self.log, self.ready = cmd, env, log, ready
        self.popen: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Process":
        with self.log.open("a") as out:
            self.popen = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.cmd[:4]} exited early; see {self.log}")
            return self.ready in self.log.read_text(errors="replace")

        wait_until(ready, timeout=timeout, interval=0.1, what=f"{self.log.name} to be ready")
        return self

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def worker_command(app: str, args, *, queue: str | None = None) -> list[str]:
    """The production worker command (docker-compose.yml) plus the pool under test."""
    cmd = [sys.executable, "-m", "celery", "-A", app, "worker", "--loglevel", args.loglevel]
    cmd += ["--pool", args.pool, "--concurrency", str(args.concurrency)]
    if queue:
        cmd += ["--queues", queue]
    return cmd


def shown(cmd: list[str]) -> str:
    return " ".join(["celery", *cmd[3:]])


# --- CPU accounting

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class CpuMeter:
    """CPU seconds spent by one side: its worker processes (the whole process group),
    the PostgreSQL backends of the bench database and this process (the enqueue).
    Unlike wall-clock time it hardly moves when other jobs share the machine."""

    def __init__(self, worker: "Process", database: str):
        self.worker, self.database = worker, database

    def _pids(self) -> set[int]:
        from django.db import connection

        group = self.worker.popen.pid
        pids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:  # pgrp
                pids.add(int(stat.parent.name))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
            pids.update(row[0] for row in cursor.fetchall())
        pids.add(os.getpid())
        return pids

    def snapshot(self) -> dict[int, float]:
        return {pid: _cpu_seconds(pid) for pid in self._pids()}

    def since(self, before: dict[int, float]) -> float:
        after = self.snapshot()
        return sum(max(cpu - before.get(pid, 0.0), 0.0) for pid, cpu in after.items())


# --- the receiver


class Receiver:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def _call(self, method: str, path: str) -> dict:
        request = urllib.request.Request(
            self.base + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def wait_for(self, n: int, *, timeout: float) -> dict:
        return wait_until(
            lambda: (s := self.stats())["unique"] >= n and s,
            timeout=timeout,
            interval=0.02,
            what=f"{n} unique webhooks at the receiver",
        )


# --- data


def setup_data(n: int, warmup: int, port: int, secrets_path: Path):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from common import roles
    from incidents import services as incident_services
    from incidents.models import Incident, Severity
    from notifications.models import Audience, Delivery, Destination

    user, _ = get_user_model().objects.get_or_create(
        username="bench-responder", defaults={"email": "bench@example.test"}
    )
    user.groups.add(Group.objects.get_or_create(name=roles.RESPONDERS)[0])
    # Fresh rows each time: the receiver's port changes from one invocation to the next.
    Delivery.objects.filter(destination__audience__slug__in=[AUDIENCE, WARMUP_AUDIENCE]).delete()
    Destination.objects.filter(audience__slug__in=[AUDIENCE, WARMUP_AUDIENCE]).delete()
    Incident.objects.filter(title__startswith="Benchmark:").delete()
    secrets: dict[str, str] = {}
    audiences = {}
    for slug, count, offset in ((AUDIENCE, n, 0), (WARMUP_AUDIENCE, warmup, n)):
        audience, _ = Audience.objects.get_or_create(slug=slug, defaults={"name": slug})
        audiences[slug] = audience
        rows = []
        for i in range(offset, offset + count):
            secret = Destination.new_secret()
            secrets[str(i)] = secret
            rows.append(
                Destination(
                    audience=audience,
                    kind=Destination.Kind.WEBHOOK,
                    name=f"hook {i:05d}",
                    target=f"http://127.0.0.1:{port}/hooks/{i}",
                    secret=secret,
                )
            )
        Destination.objects.bulk_create(rows)
    secrets_path.write_text(json.dumps(secrets))
    incident = incident_services.incident_declare(
        title="Benchmark: checkout errors",
        severity=Severity.objects.order_by("pk").last(),
        actor=user,
    )
    return user, incident


def post_update(incident, user, slug: str, message: str) -> tuple[float, float, object]:
    """update_post inside an outer transaction whose first on-commit hook stamps the
    commit time; update_post's own hook (the enqueue) runs right after it."""
    from django.db import transaction

    from notifications.services import update_post

    stamp = {}
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.setdefault("commit", time.time()))
        update = update_post(incident=incident, message=message, actor=user, audiences=[slug])
    return stamp["commit"], time.time(), update


def wait_all_sent(update, n: int, timeout: float) -> dict:
    from django.db.models import Count

    from notifications.models import Delivery

    def done():
        counts = dict(
            Delivery.objects.filter(update=update)
            .values_list("status")
            .annotate(c=Count("pk"))
            .values_list("status", "c")
        )
        return counts if counts.get(Delivery.Status.SENT, 0) >= n else None

    return wait_until(
        done, timeout=timeout, interval=0.1, what="every delivery to be recorded sent"
    )


# --- the two sides


def result_row(n: int, t0: float, enqueued: float, stats: dict, cpu: float) -> dict:
    elapsed = stats["last_ack"] - t0
    return {
        "cpu_ms": 1000 * cpu / n,
        "load": os.getloadavg()[0],
        "seconds": elapsed,
        "first_ack": stats["first_ack"] - t0,
        "enqueue": enqueued - t0,
        "per_second": n / elapsed,
        "duplicates": stats["duplicates"],
        "bad_signatures": stats["bad_signatures"],
    }


def settle(receiver: Receiver, n: int) -> dict:
    """A short pause after the last ack so a late duplicate would still be counted."""
    time.sleep(1.0)
    stats = receiver.stats()
    if stats["unique"] != n:
        raise RuntimeError(f"receiver saw {stats['unique']} unique ids, expected {n}")
    return stats


def run_keel(args, env, logs: Path, receiver: Receiver, incident, user, warmup: int) -> dict:
    cmd = worker_command("config", args)
    worker = Process(cmd, env=env, log=logs / "keel-worker.log", ready="ready.").start()
    meter = CpuMeter(worker, database_name(args))
    rows = []
    try:
        receiver.reset()
        _, _, update = post_update(incident, user, WARMUP_AUDIENCE, "Warm-up.")
        receiver.wait_for(warmup, timeout=args.timeout)
        wait_all_sent(update, warmup, args.timeout)
        for run in range(1, args.runs + 1):
            receiver.reset()
            before = meter.snapshot()
            committed, enqueued, update = post_update(
                incident, user, AUDIENCE, f"Benchmark run {run}: errors are down to 2%."
            )
            receiver.wait_for(args.destinations, timeout=args.timeout)
            wait_all_sent(update, args.destinations, args.timeout)
            cpu = meter.since(before)
            stats = settle(receiver, args.destinations)
            row = result_row(args.destinations, committed, enqueued, stats, cpu)
            rows.append(row)
            print_row("keel", run, row)
    finally:
        worker.stop()
    return {"command": shown(cmd), "runs": rows, "update": update}


def run_reference(args, env, logs: Path, receiver: Receiver, update, warmup: int) -> dict:
    from benchmarks import reference_tasks
    from notifications.models import Delivery, Destination
    from notifications.outbox import webhook_payload

    reference_tasks.app.conf.broker_url = args.redis_url
    sample = Delivery.objects.select_related("destination", "update").filter(update=update).first()
    payload = webhook_payload(sample)  # the very body Keel sent, byte for byte in size
    targets = {
        slug: list(
            Destination.objects.filter(audience__slug=slug)
            .order_by("pk")
            .values_list("target", "secret")
        )
        for slug in (AUDIENCE, WARMUP_AUDIENCE)
    }
    cmd = worker_command("benchmarks.reference_tasks", args, queue=reference_tasks.QUEUE)
    worker = Process(cmd, env=env, log=logs / "reference-worker.log", ready="ready.").start()

    def fan_out(messages: list) -> float:
        t0 = time.time()
        with reference_tasks.app.producer_or_acquire() as producer:
            for message in messages:
                reference_tasks.reference_post.apply_async(message, producer=producer)
        return t0

    def messages(slug: str) -> list:
        return [(url, secret, str(uuid.uuid4()), payload) for url, secret in targets[slug]]

    meter = CpuMeter(worker, database_name(args))
    rows = []
    try:
        receiver.reset()
        fan_out(messages(WARMUP_AUDIENCE))
        receiver.wait_for(warmup, timeout=args.timeout)
        for run in range(1, args.runs + 1):
            receiver.reset()
            batch = messages(AUDIENCE)
            before = meter.snapshot()
            t0 = fan_out(batch)
            enqueued = time.time()
            receiver.wait_for(args.destinations, timeout=args.timeout)
            cpu = meter.since(before)
            stats = settle(receiver, args.destinations)
            row = result_row(args.destinations, t0, enqueued, stats, cpu)
            rows.append(row)
            print_row("reference", run, row)
    finally:
        worker.stop()
    return {
        "command": shown(cmd),
        "runs": rows,
        "body_bytes": len(json.dumps(payload, separators=(",", ":"), default=str)),
    }


# --- reporting


def print_row(side: str, run: int, row: dict) -> None:
    print(
        f"  {side:<9} run {run}: last ack {row['seconds']:.3f} s, "
        f"first ack {row['first_ack']:.3f} s, enqueue {row['enqueue']:.3f} s, "
        f"{row['per_second']:.0f}/s, CPU {row['cpu_ms']:.1f} ms/delivery, "
        f"load {row['load']:.1f}, duplicates {row['duplicates']}, "
        f"bad signatures {row['bad_signatures']}",
        flush=True,
    )


def median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def summary(args, keel: dict, reference: dict | None) -> dict:
    sides = {"keel": keel} | ({"ref": reference} if reference else {})
    out = {}
    for name, side in sides.items():
        for key in ("seconds", "per_second", "first_ack", "enqueue", "cpu_ms", "load"):
            out[f"{name}_{key}"] = median(side["runs"], key)
        out[f"{name}_duplicates"] = sum(r["duplicates"] + r["bad_signatures"] for r in side["runs"])
    out["target_latency_met"] = out["keel_seconds"] <= TARGET_SECONDS
    if reference:
        out["ratio"] = out["keel_per_second"] / out["ref_per_second"]
        out["target_ratio_met"] = out["ratio"] >= TARGET_RATIO
    return out


def table(args, s: dict) -> str:
    def yes(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    def row(label: str, p: str) -> str:
        return (
            f"| {label} | {s[p + '_seconds']:.2f} s | {s[p + '_first_ack']:.2f} s "
            f"| {s[p + '_enqueue']:.2f} s | {s[p + '_per_second']:.0f} "
            f"| {s[p + '_cpu_ms']:.1f} ms | {s[p + '_load']:.1f} | {s[p + '_duplicates']} |"
        )

    lines = [
        "| side | commit → last ack | first ack | enqueue done | deliveries/s "
        "| CPU per delivery | load avg | duplicates |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        row("Keel (update_post → outbox → worker)", "keel"),
    ]
    if "ref_per_second" in s:
        lines.append(row("reference (bare Celery task)", "ref"))
    lines += [
        "",
        f"- all {args.destinations} delivered within {TARGET_SECONDS:.0f} s of commit: "
        f"{s['keel_seconds']:.2f} s → {yes(s['target_latency_met'])}",
    ]
    if "ratio" in s:
        lines.append(
            f"- throughput ≥ {TARGET_RATIO:.0%} of the reference: "
            f"{s['ratio']:.0%} → {yes(s['target_ratio_met'])}"
        )
    return "\n".join(lines)


def docs_block(args, label: str, info: dict, keel: dict, reference: dict | None, s: dict) -> str:
    def runs(rows):
        return ", ".join(f"{r['seconds']:.2f} s / {r['per_second']:.0f}/s" for r in rows)

    lines = [
        f"<!-- fanout:{label}:start -->",
        f"### {label}",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; code: `{info['commit'] or '?'}`",
        f"- machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}; Python {info['python']}",
        f"- command: `.venv/bin/python benchmarks/fanout.py {shlex.join(sys.argv[1:])}`".rstrip(),
        f"- Keel worker: `{keel['command']}`",
    ]
    if reference:
        lines.append(f"- reference worker: `{reference['command']}`")
        lines.append(
            f"- webhook body: {reference['body_bytes']} bytes, signed, per destination secret"
        )
    lines += [
        f"- {args.destinations} destinations, median of {len(keel['runs'])} runs "
        f"(Keel runs: {runs(keel['runs'])}"
        + (f"; reference runs: {runs(reference['runs'])})" if reference else ")"),
        "",
        table(args, s),
        f"<!-- fanout:{label}:end -->",
    ]
    return "\n".join(lines)


def write_docs(label: str, block: str) -> None:
    DOCS.parent.mkdir(exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n## Fan-out\n\n"
    pattern = re.compile(
        rf"<!-- fanout:{re.escape(label)}:start -->.*?<!-- fanout:{re.escape(label)}:end -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(text)
    print(f"wrote {DOCS.relative_to(ROOT)} ({label})")


# --- main


def main(argv=None) -> int:
    args = parse_args(argv)
    logs = Path(tempfile.mkdtemp(prefix="keel-fanout-"))
    env = bench_env(args, logs / "data")
    os.environ.update(env)
    warmup = max(2 * args.concurrency, 10)

    ensure_database(args.database_url)
    flush_redis(args.redis_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}; {args.destinations} webhooks; "
        f"pool={args.pool} concurrency={args.concurrency}; logs in {logs}",
        flush=True,
    )
    port = free_port()
    secrets_path = logs / "secrets.json"
    user, incident = setup_data(args.destinations, warmup, port, secrets_path)
    receiver_proc = Process(
        [sys.executable, str(ROOT / "benchmarks" / "receiver.py"), str(port), str(secrets_path)],
        env=env,
        log=logs / "receiver.log",
        ready="receiver listening",
    ).start(timeout=30)
    receiver = Receiver(port)
    keel = reference = None
    try:
        keel = run_keel(args, env, logs, receiver, incident, user, warmup)
        if not args.skip_reference:
            reference = run_reference(args, env, logs, receiver, keel["update"], warmup)
    finally:
        receiver_proc.stop()
        from django.db import connection

        connection.close()
    s = summary(args, keel, reference)
    print()
    print(table(args, s))
    if args.write_docs:
        write_docs(args.write_docs, docs_block(args, args.write_docs, info, keel, reference, s))
    ok = s["keel_duplicates"] == 0 and s.get("ref_duplicates", 0) == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
