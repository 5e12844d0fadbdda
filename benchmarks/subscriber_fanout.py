"""Subscriber fan-out benchmark: one public update to every status page subscriber.

    .venv/bin/python benchmarks/subscriber_fanout.py            # 10,000 emails + 1,000 webhooks
    .venv/bin/python benchmarks/subscriber_fanout.py --emails 500 --webhooks 50
    .venv/bin/python benchmarks/subscriber_fanout.py --write-docs 'label'

All on 127.0.0.1, with real processes:

1. Its own PostgreSQL database (``--database-url``, default ``keel_bench_subscribers``;
   created and migrated) and the Redis DB of ``--redis-url`` (its queues purged;
   DB 0, the application's, is refused).
2. ``benchmarks/smtp_sink.py`` (aiosmtpd) takes the emails: Django's SMTP backend
   is pointed at it. ``benchmarks/receiver.py`` takes the webhooks and verifies
   every signature. Both record when they acknowledged each Message-ID /
   webhook-id.
3. ``--emails`` confirmed email subscribers and ``--webhooks`` confirmed webhook
   subscribers (each its own secret), all subscribed to every component.
4. **Keel**: real Celery workers (the compose file's command plus the pool flags);
   a warm-up update with no subscriber yet; then per run one incident declared and
   one public update posted through ``notifications.services.update_post`` (the
   same path as the Communications tab and the API). The clock starts at the
   commit and stops at the sinks' acknowledgement of the last subscriber.
5. **Reference**: Keel's workers stopped, the same worker command on the bare
   tasks of ``benchmarks/reference_tasks.py``: one task per message doing the same
   SMTP send (the very subject and body Keel sent) or signed POST (the very body),
   published through one producer; same measurement from the first publish.

The script knows nothing of the engine's tables or tasks: it drives the public
service entry point and counts at the sinks, so it measures whatever engine is
in the tree. Lost = subscribers with no message when the wait ended;
duplicates = Message-IDs or webhook-ids acknowledged more than once, or a
subscriber given more than one message for one update. Target (issue 9): Keel's
throughput >= 50 % of the reference's, 0 duplicates, 0 lost.

``--profile`` adds one run with a single solo-pool worker under cProfile and
prints where its time goes. Every wait is bounded (``--timeout``); children run
in their own process groups and are stopped on exit.
"""

import argparse
import json
import os
import random
import shlex
import signal
import statistics
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

from benchmarks.fanout import (  # noqa: E402
    CpuMeter,
    Process,
    Receiver,
    ensure_database,
    free_port,
    machine,
    shown,
    wait_until,
    worker_command,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_subscribers"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
FORBIDDEN_REDIS_DBS = {0}  # the application's
TARGET_RATIO = 0.5
EMAIL_DOMAIN = "subscribers.bench.example"
HOOK_PATH = "/bench-hooks/"
COMPONENT = "bench-api"
DOCS = ROOT / "docs" / "benchmarks.md"
SENDER = "status@bench.example"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000, help="email subscribers")
    parser.add_argument("--webhooks", type=int, default=1_000, help="webhook subscribers")
    parser.add_argument("--runs", type=int, default=1, help="measured runs per side (median)")
    parser.add_argument("--pool", default="prefork", help="celery worker --pool")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="celery worker --concurrency (compose: 4)"
    )
    parser.add_argument("--loglevel", default="INFO", help="worker --loglevel (production: INFO)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run, at most")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--settings", default="config.settings.base", help="DJANGO_SETTINGS_MODULE of everything"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=0,
        help="the sinks listen on this port and the next two (default: free ports)",
    )
    parser.add_argument("--skip-reference", action="store_true", help="measure Keel only")
    parser.add_argument("--profile", action="store_true", help="add a cProfile'd solo-pool run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--write-docs", metavar="LABEL", help="write a docs/benchmarks.md block")
    args = parser.parse_args(argv)
    redis_db = int((urlsplit(args.redis_url).path or "/0").lstrip("/") or 0)
    if redis_db in FORBIDDEN_REDIS_DBS:
        parser.error(f"Redis DB {redis_db} is the application's; use another.")
    local = {"127.0.0.1", "localhost", "::1"}
    if (urlsplit(args.database_url).hostname or "") not in local or urlsplit(
        args.redis_url
    ).hostname not in local:
        parser.error("The benchmark runs against local services only.")
    if args.runs < 1 or args.emails < 0 or args.webhooks < 0 or args.emails + args.webhooks < 1:
        parser.error("--runs must be positive and there must be at least one subscriber")
    return args


def bench_env(args, data_dir: Path, smtp_port: int) -> dict:
    """The environment of this process and of every worker it starts."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": args.settings,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key"),
        "KEEL_DATA_DIR": str(data_dir),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "0",
        "DEFAULT_FROM_EMAIL": SENDER,
        # The receiver is on loopback, which the SSRF guard refuses by default.
        "KEEL_WEBHOOKS_ALLOW_PRIVATE": "1",
        "PYTHONPATH": str(ROOT),
    }


def purge_queues(redis_url: str) -> None:
    """Drop tasks an earlier, interrupted run left in this Redis DB's queues."""
    import redis

    from benchmarks import reference_tasks

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.delete("celery", reference_tasks.QUEUE)
    client.close()


def _http(base: str, method: str, path: str):
    request = urllib.request.Request(
        base + path, method=method, data=b"" if method == "POST" else None
    )
    # Generous: on a loaded machine a sink busy with thousands of sessions answers late.
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


class Sinks:
    """The SMTP sink and the webhook receiver, read together."""

    def __init__(self, smtp_stats_port: int, receiver: Receiver):
        self.smtp = f"http://127.0.0.1:{smtp_stats_port}"
        self.receiver = receiver

    def reset(self) -> None:
        _http(self.smtp, "POST", "/reset")
        self.receiver.reset()

    def stats(self) -> dict:
        return {"email": _http(self.smtp, "GET", "/stats"), "webhook": self.receiver.stats()}

    def acks(self) -> list[float]:
        """When each message was first acknowledged, both sinks together."""
        return _http(self.smtp, "GET", "/acks") + _http(self.receiver.base, "GET", "/acks")

    def samples(self) -> tuple[dict | None, dict | None]:
        return _http(self.smtp, "GET", "/sample"), _http(self.receiver.base, "GET", "/sample")

    def wait(self, emails: int, webhooks: int, *, timeout: float) -> tuple[dict, bool]:
        """(stats, every subscriber reached) once both sinks have everyone, or at the timeout."""

        def reached() -> dict | None:
            try:
                s = self.stats()
            except OSError:  # a sink slow to answer its stats is not a timeout of the run
                return None
            done = s["email"]["unique_recipients"] >= emails and s["webhook"]["unique"] >= webhooks
            return s if done else None

        try:
            stats = wait_until(
                reached,
                timeout=timeout,
                interval=0.25,
                what=f"{emails} emails and {webhooks} webhooks at the sinks",
            )
            return stats, True
        except TimeoutError:
            return self.stats(), False

    def settled(self) -> dict:
        """A pause after the last ack, so a late duplicate is still counted."""
        time.sleep(1.5)
        return self.stats()


# --- data


def setup_data(args, receiver_port: int, secrets_path: Path):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from common import roles
    from notifications.models import Delivery, Destination
    from statuspage.models import Component
    from statuspage.subscriber_models import Subscriber

    user, _ = get_user_model().objects.get_or_create(
        username="bench-responder", defaults={"email": "bench@example.test"}
    )
    user.groups.add(Group.objects.get_or_create(name=roles.RESPONDERS)[0])
    Component.objects.get_or_create(slug=COMPONENT, defaults={"name": "Bench API"})
    # Fresh subscribers each time: the receiver's port changes from one invocation to the
    # next. An interrupted invocation's unsent status page deliveries would tell them of
    # an old update during this one: they go too.
    clear_bench_subscribers()
    Delivery.objects.filter(update__incident__title__startswith="Benchmark ").exclude(
        status=Delivery.Status.SENT
    ).delete()
    now = timezone.now()
    secrets = {}
    rows = [
        Subscriber(kind=Subscriber.Kind.EMAIL, email=f"s{i:05d}@{EMAIL_DOMAIN}", confirmed_at=now)
        for i in range(args.emails)
    ]
    for i in range(args.webhooks):
        secret = Destination.new_secret()
        secrets[f"{HOOK_PATH.strip('/')}/{i}"] = secret
        rows.append(
            Subscriber(
                kind=Subscriber.Kind.WEBHOOK,
                endpoint=f"http://127.0.0.1:{receiver_port}/hooks{HOOK_PATH}{i}",
                secret=secret,
                confirmed_at=now,
            )
        )
    secrets_path.write_text(json.dumps(secrets))
    return user, rows


def clear_bench_subscribers() -> None:
    """The last invocation's subscribers, their notifications and component choices,
    in three statements: the ORM's delete loads each of 11,000 subscribers and 22,000
    notifications to send their signals (minutes on a loaded machine). The benchmark's
    own database: no history is owed for its rows."""
    from django.db import connection, transaction

    from statuspage.subscriber_models import Subscriber, SubscriberNotification

    ids = Subscriber.objects.filter(email__endswith="@" + EMAIL_DOMAIN) | Subscriber.objects.filter(
        endpoint__contains=HOOK_PATH
    )
    ids_sql, params = ids.values("pk").query.sql_with_params()
    through = Subscriber.components.through._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for table, column in [
            (SubscriberNotification._meta.db_table, "subscriber_id"),
            (through, "subscriber_id"),
            (Subscriber._meta.db_table, "id"),
        ]:
            cursor.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({ids_sql})', params)


def add_subscribers(rows) -> None:
    from statuspage.subscriber_models import Subscriber

    Subscriber.objects.bulk_create(rows, batch_size=2000)


def post_public_update(user, run: str) -> float:
    """Declare an incident and post its first public update, as a responder does from
    the Communications tab; returns the commit time (the first on-commit hook)."""
    from django.db import transaction

    from incidents import services as incident_services
    from incidents.models import Severity
    from notifications.services import update_post

    stamp = {}
    incident = incident_services.incident_declare(
        title=f"Benchmark {run}: checkout errors",
        severity=Severity.objects.order_by("pk").last(),
        actor=user,
    )
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.setdefault("commit", time.time()))
        update_post(
            incident=incident,
            message=f"Benchmark {run}: checkout requests fail for some customers.",
            actor=user,
            audiences=["public"],
            public_status="investigating",
            public_title=f"Benchmark {run}: checkout errors",
            components={COMPONENT: "partial_outage"},
        )
    return stamp["commit"]


def published(run: str):
    """A predicate: the run's public incident is on the status page (its subscribers'
    messages, if any, were written with it)."""
    from statuspage.models import PublicIncident

    return lambda: PublicIncident.objects.filter(name=f"Benchmark {run}: checkout errors").exists()


# --- measuring


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def result_row(
    args, t0: float, stats: dict, complete: bool, cpu: float, acks: list[float], load: float
) -> dict:
    """``load``: the 1-minute load average when the run started (the machine is
    shared: the end's is recorded too)."""
    email, webhook = stats["email"], stats["webhook"]
    latencies = [ack - t0 for ack in acks]
    total = args.emails + args.webhooks
    lasts = [x for x in (email["last_ack"], webhook["last_ack"]) if x]
    firsts = [x for x in (email["first_ack"], webhook["first_ack"]) if x]
    elapsed = (max(lasts) - t0) if lasts else float("nan")
    return {
        "seconds": elapsed,
        "first_ack": (min(firsts) - t0) if firsts else float("nan"),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "email_seconds": (email["last_ack"] - t0) if email["last_ack"] else None,
        "webhook_seconds": (webhook["last_ack"] - t0) if webhook["last_ack"] else None,
        "per_second": total / elapsed if complete else 0.0,
        "cpu_ms": 1000 * cpu / total,
        "load_start": load,
        "load": os.getloadavg()[0],
        "lost": max(args.emails - email["unique_recipients"], 0)
        + max(args.webhooks - webhook["unique"], 0),
        "duplicates": max(email["duplicate_ids"], email["duplicate_recipients"])
        + webhook["duplicates"],
        "bad_signatures": webhook["bad_signatures"],
        "complete": complete,
    }


def print_row(side: str, run: str, row: dict) -> None:
    def secs(value):
        return "-" if value is None else f"{value:.2f} s"

    print(
        f"  {side:<9} run {run}: last ack {row['seconds']:.2f} s "
        f"(emails {secs(row['email_seconds'])}, webhooks {secs(row['webhook_seconds'])}), "
        f"first ack {row['first_ack']:.2f} s, p50 {row['p50']:.2f} s, p99 {row['p99']:.2f} s, "
        f"{row['per_second']:.0f}/s, "
        f"CPU {row['cpu_ms']:.2f} ms/message, load {row['load_start']:.1f} → {row['load']:.1f}, "
        f"lost {row['lost']}, duplicates {row['duplicates']}, "
        f"bad signatures {row['bad_signatures']}",
        flush=True,
    )


def run_keel(args, env, logs: Path, sinks: Sinks, user, rows) -> dict:
    cmd = worker_command("config", args)
    worker = Process(cmd, env=env, log=logs / "keel-worker.log", ready="ready.").start()
    # Beat, as production runs it (the compose file's "beat" service): its sweepers are
    # the engine's guarantee for whatever the fast path did not enqueue.
    beat_cmd = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
    beat = Process(
        [*beat_cmd, "--schedule", str(logs / "beat-schedule")],
        env=env,
        log=logs / "keel-beat.log",
        ready="beat: Starting",
    ).start()
    meter = CpuMeter(worker, urlsplit(args.database_url).path.lstrip("/"))
    results = []
    samples = (None, None)
    try:
        # Warm-up: the status page path (publish, snapshot) before anyone subscribes.
        warm_up = f"warm-up {uuid.uuid4().hex[:6]}"
        post_public_update(user, warm_up)
        wait_until(
            published(warm_up), timeout=args.timeout, interval=0.2, what="the warm-up update"
        )
        add_subscribers(rows)
        for run in range(1, args.runs + 1):
            sinks.reset()
            before = meter.snapshot()
            load = os.getloadavg()[0]
            commit = post_public_update(user, f"run {run} {uuid.uuid4().hex[:6]}")
            stats, complete = sinks.wait(args.emails, args.webhooks, timeout=args.timeout)
            cpu = meter.since(before)
            if complete:
                stats = sinks.settled()
            row = result_row(args, commit, stats, complete, cpu, sinks.acks(), load)
            results.append(row)
            print_row("keel", str(run), row)
            samples = sinks.samples()
            if not complete:
                break
    finally:
        beat.stop()
        worker.stop()
    return {"command": shown(cmd) + " + celery -A config beat", "runs": results, "samples": samples}


def run_reference(args, env, logs: Path, sinks: Sinks, smtp_port: int, samples) -> dict:
    from benchmarks import reference_tasks

    email_sample, webhook_sample = samples
    reference_tasks.app.conf.broker_url = args.redis_url
    targets = json.loads((logs / "secrets.json").read_text())
    cmd = worker_command("benchmarks.reference_tasks", args, queue=reference_tasks.QUEUE)
    worker = Process(cmd, env=env, log=logs / "reference-worker.log", ready="ready.").start()
    meter = CpuMeter(worker, urlsplit(args.database_url).path.lstrip("/"))

    def messages(tag: str) -> list:
        out = [
            (
                reference_tasks.reference_email,
                (
                    "127.0.0.1",
                    smtp_port,
                    SENDER,
                    f"s{i:05d}@{EMAIL_DOMAIN}",
                    f"<ref-{tag}-{i}@bench.example>",
                    email_sample["subject"],
                    email_sample["body"],
                ),
            )
            for i in range(args.emails)
        ] + [
            (
                reference_tasks.reference_post,
                (f"{sinks.receiver.base}/hooks/{path}", secret, str(uuid.uuid4()), webhook_sample),
            )
            for path, secret in targets.items()
        ]
        random.Random(0).shuffle(out)  # both kinds arrive mixed, as Keel's fan-out does
        return out

    def fan_out(batch: list) -> float:
        t0 = time.time()
        with reference_tasks.app.producer_or_acquire() as producer:
            for task, task_args in batch:
                task.apply_async(task_args, producer=producer)
        return t0

    results = []
    try:
        for run in range(1, args.runs + 1):
            sinks.reset()
            batch = messages(str(run))
            before = meter.snapshot()
            load = os.getloadavg()[0]
            t0 = fan_out(batch)
            stats, complete = sinks.wait(args.emails, args.webhooks, timeout=args.timeout)
            cpu = meter.since(before)
            if complete:
                stats = sinks.settled()
            row = result_row(args, t0, stats, complete, cpu, sinks.acks(), load)
            results.append(row)
            print_row("reference", str(run), row)
    finally:
        worker.stop()
    return {"command": shown(cmd), "runs": results}


def run_profile(args, env, logs: Path, sinks: Sinks, user) -> str:
    """One more update with a single solo-pool worker under cProfile: where a worker's
    time goes, by function, whatever the engine does."""
    import pstats

    out = logs / "worker.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "celery", "-A", "config"]
    cmd += ["worker", "--loglevel", args.loglevel, "--pool", "solo"]
    worker = Process(cmd, env=env, log=logs / "profile-worker.log", ready="ready.").start()
    try:
        sinks.reset()
        post_public_update(user, f"profile {uuid.uuid4().hex[:6]}")
        _, complete = sinks.wait(args.emails, args.webhooks, timeout=args.timeout)
    finally:
        worker.stop()
    if not out.exists():
        return "(no profile written)"
    report = logs / "profile.txt"
    with report.open("w") as stream:
        stats = pstats.Stats(str(out), stream=stream)
        stream.write(f"complete: {complete}\n\n== by cumulative time\n")
        stats.sort_stats("cumulative").print_stats(40)
        stream.write("\n== by own time\n")
        stats.sort_stats("tottime").print_stats(25)
    return str(report)


# --- reporting


def summary(keel: dict, reference: dict | None) -> dict:
    out = {}
    for name, side in {"keel": keel, "ref": reference}.items():
        if not side or not side["runs"]:
            continue
        rows = side["runs"]
        for key in (
            "seconds",
            "first_ack",
            "p50",
            "p99",
            "per_second",
            "cpu_ms",
            "load_start",
            "load",
        ):
            out[f"{name}_{key}"] = statistics.median(r[key] for r in rows)
        for key in ("email_seconds", "webhook_seconds"):
            values = [r[key] for r in rows if r[key] is not None]
            out[f"{name}_{key}"] = statistics.median(values) if values else None
        out[f"{name}_lost"] = max(r["lost"] for r in rows)
        out[f"{name}_duplicates"] = sum(r["duplicates"] + r["bad_signatures"] for r in rows)
        out[f"{name}_complete"] = all(r["complete"] for r in rows)
    if out.get("ref_per_second"):
        out["ratio"] = out["keel_per_second"] / out["ref_per_second"]
        out["target_met"] = (
            out["ratio"] >= TARGET_RATIO and out["keel_duplicates"] == 0 and out["keel_lost"] == 0
        )
    return out


def table(args, s: dict) -> str:
    def secs(value):
        return "n/a" if value is None else f"{value:.2f} s"

    def row(label: str, p: str) -> str:
        return (
            f"| {label} | {secs(s[p + '_seconds'])} | {secs(s[p + '_email_seconds'])} "
            f"| {secs(s[p + '_webhook_seconds'])} | {secs(s[p + '_p50'])} / {secs(s[p + '_p99'])} "
            f"| {s[p + '_per_second']:.0f} "
            f"| {s[p + '_cpu_ms']:.2f} ms | {s[p + '_lost']} | {s[p + '_duplicates']} "
            f"| {s[p + '_load_start']:.1f} → {s[p + '_load']:.1f} |"
        )

    lines = [
        "| side | commit → last ack | last email | last webhook | latency p50 / p99 "
        "| messages/s | CPU per message | lost | duplicates | load avg start → end |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        row("Keel (update_post → status page → subscribers)", "keel"),
    ]
    if "ref_seconds" in s:
        lines.append(row("reference (bare Celery tasks)", "ref"))
    if "ratio" in s:
        verdict = "**met**" if s["target_met"] else "**missed**"
        lines += [
            "",
            f"- throughput ≥ {TARGET_RATIO:.0%} of the reference, 0 lost, 0 duplicates: "
            f"{s['ratio']:.0%} → {verdict}",
        ]
    return "\n".join(lines)


def docs_block(args, label: str, info: dict, keel: dict, reference: dict | None, s) -> str:
    def runs(rows):
        return ", ".join(f"{r['seconds']:.1f} s / {r['per_second']:.0f}/s" for r in rows)

    lines = [
        f"<!-- subscriber-fanout:{label}:start -->",
        f"### {label}",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; code: `{info['commit'] or '?'}`",
        f"- machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}; Python {info['python']}",
        f"- command: `.venv/bin/python benchmarks/subscriber_fanout.py {shlex.join(sys.argv[1:])}`",
        f"- sizes: {args.emails} email + {args.webhooks} webhook subscribers (confirmed)",
        f"- Keel worker: `{keel['command']}`",
    ]
    if reference:
        lines.append(f"- reference worker: `{reference['command']}`")
    lines += [
        f"- runs: Keel {runs(keel['runs'])}"
        + (f"; reference {runs(reference['runs'])}" if reference else ""),
        "",
        table(args, s),
        f"<!-- subscriber-fanout:{label}:end -->",
    ]
    return "\n".join(lines)


def write_docs(label: str, block: str) -> None:
    import re

    text = DOCS.read_text()
    start = f"<!-- subscriber-fanout:{label}:start -->"
    end = f"<!-- subscriber-fanout:{label}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        marker = "<!-- subscriber-fanout:runs -->"
        if marker not in text:
            text = text.rstrip("\n") + "\n\n## Subscriber fan-out\n\n" + marker + "\n"
        text = text.replace(marker, marker + "\n\n" + block)
    DOCS.write_text(text)
    print(f"wrote {DOCS.relative_to(ROOT)} ({label})")


# --- main


def ports(*numbers: int) -> list[str]:
    return [str(n) for n in numbers]


def main(argv=None) -> int:
    args = parse_args(argv)
    # A TERM (or an INT, which a shell's background job ignores) stops the children too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logs = Path(tempfile.mkdtemp(prefix="keel-subscriber-fanout-"))
    if args.port_base:
        smtp_port, smtp_stats_port, receiver_port = (args.port_base + n for n in range(3))
    else:
        smtp_port, smtp_stats_port, receiver_port = free_port(), free_port(), free_port()
    env = bench_env(args, logs / "data", smtp_port)
    os.environ.update(env)

    ensure_database(args.database_url)
    purge_queues(args.redis_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs, {info['cpu']}; {args.emails} email + "
        f"{args.webhooks} webhook subscribers; pool={args.pool} "
        f"concurrency={args.concurrency}; logs in {logs}",
        flush=True,
    )
    user, rows = setup_data(args, receiver_port, logs / "secrets.json")
    children = [
        Process(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "smtp_sink.py"),
                *ports(smtp_port, smtp_stats_port),
            ],
            env=env,
            log=logs / "smtp-sink.log",
            ready="smtp sink listening",
        ),
        Process(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "receiver.py"),
                *ports(receiver_port),
                str(logs / "secrets.json"),
            ],
            env=env,
            log=logs / "receiver.log",
            ready="receiver listening",
        ),
    ]
    keel = reference = None
    profile = None
    try:
        for child in children:
            child.start(timeout=30)
        sinks = Sinks(smtp_stats_port, Receiver(receiver_port))
        keel = run_keel(args, env, logs, sinks, user, rows)
        complete = keel["runs"] and keel["runs"][-1]["complete"]
        if not args.skip_reference and complete:
            reference = run_reference(args, env, logs, sinks, smtp_port, keel["samples"])
        if args.profile:
            profile = run_profile(args, env, logs, sinks, user)
    finally:
        for child in children:
            child.stop()
        from django.db import connection

        connection.close()
    s = summary(keel, reference)
    print()
    print(table(args, s))
    if profile:
        print(f"\nprofile: {profile}")
    if args.json:
        results = {"summary": s, "keel": keel["runs"], "profile": profile}
        results["reference"] = reference["runs"] if reference else None
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.write_docs:
        write_docs(args.write_docs, docs_block(args, args.write_docs, info, keel, reference, s))
    return 0 if s.get("keel_lost", 1) == 0 and s.get("keel_duplicates", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
