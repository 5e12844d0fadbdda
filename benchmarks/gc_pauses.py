"""Garbage-collection pauses in a real gunicorn worker (issue 17, item 5).

    .venv/bin/python benchmarks/gc_pauses.py --write-docs
    .venv/bin/python benchmarks/gc_pauses.py --thresholds 700,10,10 50000,20,100

1. Creates its own PostgreSQL database (``--database-url``: ``keel_[test_]<name>N_*``
   only), migrates it and writes the postmortem rendering benchmark's document through
   the services (``tests.factories.postmortems.big_postmortem``: 200 timeline events,
   20 metric series of 1,000 points, 50 action items) and a responder with a session.
2. For each collector setting — as Python sets it (``KEEL_GC_FREEZE=0``), frozen after
   start-up (config/gunicorn.py's default), and frozen with each ``--thresholds`` — starts
   gunicorn with config/gunicorn.py (2 gthread workers, 4 threads) plus a recorder:
   ``gc.callbacks`` time every collection in the worker, gunicorn's ``pre_request`` /
   ``post_request`` time every request, and the worker writes both when it exits.
   ``wrk -t2 -c8`` drives the postmortem editor and the incident page for ``--duration``
   seconds each.
3. A request is *paused* when a collection ran in its worker while it was being handled
   (the collector holds the GIL: every thread of the worker waits). Prints, and with
   ``--write-docs`` writes to docs/benchmarks.md: wrk's req/s and p50/p99, the in-worker
   p50/p95/p99, the share of requests paused by a full (generation 2) collection, the
   full collections per 1,000 requests, their median and longest pause, the share of the
   workers' request time spent collecting and the workers' peak RSS. Drops its database
   and stops every process it started. Bounded: wrk's ``-d`` per row, 10 rows by default.
"""

import argparse
import bisect
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import (  # noqa: E402
    GUNICORN,
    bench_env,
    database_create,
    database_drop,
    load_average,
    machine,
    wait_http,
    wrk,
)

DOCS = ROOT / "docs" / "benchmarks.md"
MARK = "gc-pauses"

# Keel's gunicorn settings and hooks, plus the recorder (written to the run's directory).
RECORDER = """
import gc
import json
import os
import resource
import threading
import time
from pathlib import Path

from config import gunicorn as keel_gunicorn
from config.gunicorn import *  # noqa: F403

OUT = Path(os.environ["GC_BENCH_OUT"])
_collections = []  # (start, end, generation)
_requests = []  # (start, end)
_started = threading.local()
_gc_started = [0.0]


def _record_collection(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _collections.append((_gc_started[0], time.perf_counter(), info["generation"]))


def post_worker_init(worker):
    keel_gunicorn.post_worker_init(worker)
    gc.callbacks.append(_record_collection)


def pre_request(worker, req):
    _started.at = time.perf_counter()


def post_request(worker, req, environ, resp):
    _requests.append((_started.at, time.perf_counter()))


def worker_exit(server, worker):
    (OUT / f"{os.getpid()}.json").write_text(
        json.dumps(
            {
                "collections": _collections,
                "requests": _requests,
                "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )
"""

SERVER_ARGS = ["--config", "gc_recorder.py", "--workers", "2", "--worker-class", "gthread",
               "--threads", "4", "--keep-alive", "5"]  # fmt: skip

SETTINGS = """
from config.settings.base import *  # noqa: F403
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/keel_w1_gc")
    parser.add_argument("--port", type=int, default=19150)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per row")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--thresholds",
        nargs="*",
        default=["10000,10,10", "50000,20,10", "50000,20,100"],
        help="gc thresholds to try with the frozen collector (KEEL_GC_THRESHOLD)",
    )
    parser.add_argument("--write-docs", action="store_true")
    return parser.parse_args(argv)


def build() -> dict:
    from django.test import Client

    from tests.factories.incidents import UserFactory
    from tests.factories.postmortems import big_postmortem

    user = UserFactory(username="gc-bench", role="responder")
    postmortem = big_postmortem(actor=user)
    browser = Client()
    browser.force_login(user)
    return {
        "session": browser.cookies["sessionid"].value,
        "pages": [
            ("postmortem editor", f"/postmortems/{postmortem.pk}/"),
            ("incident page", f"/incidents/{postmortem.incident_id}/"),
        ],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def worker_figures(out: Path) -> dict:
    """What the workers recorded: requests, and the collections that overlapped them."""
    durations, paused_full, paused_any, gc_in_requests, busy = [], 0, 0, 0.0, 0.0
    full_pauses, full_count, requests, rss = [], 0, 0, 0
    for dump in out.glob("*.json"):
        recorded = json.loads(dump.read_text())
        rss = max(rss, recorded["max_rss_kib"])
        collections = sorted(recorded["collections"])
        starts = [start for start, _end, _generation in collections]
        full_pauses += [end - start for start, end, generation in collections if generation == 2]
        full_count += sum(1 for *_times, generation in collections if generation == 2)
        for start, end in recorded["requests"]:
            requests += 1
            durations.append(end - start)
            busy += end - start
            overlapping = [
                collection
                for collection in collections[: bisect.bisect_right(starts, end)]
                if collection[1] > start
            ]
            paused_any += bool(overlapping)
            paused_full += any(generation == 2 for *_times, generation in overlapping)
            gc_in_requests += sum(
                min(end, c_end) - max(start, c_start) for c_start, c_end, _g in overlapping
            )
    return {
        "requests": requests,
        "p50_ms": percentile(durations, 0.50) * 1000,
        "p95_ms": percentile(durations, 0.95) * 1000,
        "p99_ms": percentile(durations, 0.99) * 1000,
        "paused_full": paused_full / requests if requests else 0.0,
        "paused_any": paused_any / requests if requests else 0.0,
        "full_per_1000": full_count * 1000 / requests if requests else 0.0,
        "full_median_ms": statistics.median(full_pauses) * 1000 if full_pauses else 0.0,
        "full_max_ms": max(full_pauses) * 1000 if full_pauses else 0.0,
        "gc_share": gc_in_requests / busy if busy else 0.0,
        "max_rss_mib": rss / 1024,
    }


def run_setting(args, env: dict, work: Path, label: str, extra: dict, built: dict) -> list[dict]:
    rows = []
    for page, path in built["pages"]:
        out = work / f"out-{len(list(work.glob('out-*')))}"
        out.mkdir()
        server = subprocess.Popen(
            [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{args.port}", *SERVER_ARGS],
            cwd=work,
            env={**env, **extra, "GC_BENCH_OUT": str(out)},
            stdout=(work / "gunicorn.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_http(f"http://127.0.0.1:{args.port}/healthz")
            url = f"http://127.0.0.1:{args.port}{path}"
            header = f"Cookie: sessionid={built['session']}"
            wrk(url, duration=2, connections=2, header=header)  # warm-up, recorded too
            seen = wrk(url, duration=args.duration, connections=args.connections, header=header)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        row = {
            "setting": label,
            "page": page,
            "rps": seen["rps"],
            "wrk_p50_ms": seen["p50_ms"],
            "wrk_p99_ms": seen["p99_ms"],
            "non_2xx": seen["non_2xx"],
            **worker_figures(out),
        }
        rows.append(row)
        print(
            f"{label:34} {page:18} {row['rps']:6.1f}/s wrk p99 {row['wrk_p99_ms']:7.1f} | worker "
            f"p50 {row['p50_ms']:6.1f} p95 {row['p95_ms']:6.1f} p99 {row['p99_ms']:6.1f} ms | "
            f"paused by a full collection {row['paused_full']:5.1%}, "
            f"{row['full_per_1000']:5.1f} full/1000 req, median {row['full_median_ms']:5.1f} "
            f"max {row['full_max_ms']:5.1f} ms, gc {row['gc_share']:5.1%}, "
            f"rss {row['max_rss_mib']:.0f} MiB | load {load_average()}",
            file=sys.stderr,
        )
    return rows


def markdown(args, info: dict, rows: list[dict], loads: tuple[str, str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- {MARK}:start -->",
        f"### Run of {stamp} (code `{info['commit']}`)",
        "",
        f"- machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}",
        f"- load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]}",
        f"- {args.connections} keep-alive connections, {args.duration} s per row; gunicorn"
        " `--workers 2 --worker-class gthread --threads 4` with `config/gunicorn.py`",
        "",
        "| collector | page | req/s | wrk p50 / p99 ms | worker p50 / p95 / p99 ms"
        " | paused by a full collection | full collections per 1,000 requests"
        " | full pause median / max ms | time collecting | worker peak RSS |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['page']} | {row['rps']:.1f} "
            f"| {row['wrk_p50_ms']:.1f} / {row['wrk_p99_ms']:.1f} "
            f"| {row['p50_ms']:.1f} / {row['p95_ms']:.1f} / {row['p99_ms']:.1f} "
            f"| {row['paused_full']:.1%} | {row['full_per_1000']:.1f} "
            f"| {row['full_median_ms']:.1f} / {row['full_max_ms']:.1f} | {row['gc_share']:.1%} "
            f"| {row['max_rss_mib']:.0f} MiB |"
        )
    lines.append(f"<!-- {MARK}:end -->")
    return "\n".join(lines)


def write_docs(block: str) -> None:
    text = DOCS.read_text()
    start, end = f"<!-- {MARK}:start -->", f"<!-- {MARK}:end -->"
    if start in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="keel-gc-bench-"))
    (work / "gc_recorder.py").write_text(RECORDER)
    (work / "gc_bench_settings.py").write_text(SETTINGS)
    env = bench_env(work, settings="gc_bench_settings", database_url=args.database_url)
    for key in ("REDIS_URL", "CELERY_BROKER_URL", "KEEL_GC_FREEZE", "KEEL_GC_THRESHOLD"):
        env.pop(key, None)
    os.environ.clear()
    os.environ.update(env, DB_STATEMENT_TIMEOUT_MS="900000")
    sys.path.insert(0, str(work))
    database_create(args.database_url)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        built = build()
        connection.close()
        settings = [
            ("as Python sets it (not frozen)", {"KEEL_GC_FREEZE": "0"}),
            ("frozen after start-up (default)", {}),
            *(
                (f"frozen, thresholds {value}", {"KEEL_GC_THRESHOLD": value})
                for value in args.thresholds
            ),
        ]
        before = load_average()
        rows = []
        for label, extra in settings:
            rows += run_setting(args, env, work, label, extra, built)
        after = load_average()
        block = markdown(args, machine(), rows, (before, after))
        print(block)
        if args.write_docs:
            write_docs(block)
    finally:
        database_drop(args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
