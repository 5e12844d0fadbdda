"""Server time to render a big postmortem: 200 timeline events, 20 metric series of
1,000 points (20 SVG charts) and 50 action items.

Runs against a throwaway test database (test settings: local databases only) and
measures the Django request/response cycle in-process with the test client — no
network, no browser — for the editor page, the print view, the Markdown export
and the API document. Prints median / p95 / max milliseconds and the SQL query
count per page.

    .venv/bin/python -m benchmarks.postmortem_render            # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel \\
        .venv/bin/python -m benchmarks.postmortem_render        # PostgreSQL

Environment: ``BENCH_RUNS`` (default 30), ``KEEL_TEST_DATABASE_NAME`` (default
``keel_test_bench_pm``).
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("KEEL_TEST_DATABASE_NAME", "keel_test_bench_pm")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
TARGET_MS = 300


def _measure(client, url: str) -> tuple[list[float], int, int]:
    client.get(url)  # warm caches (templates, URL resolver)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return times, len(queries.captured_queries), len(response.content)


def main() -> int:
    from tests.factories.incidents import UserFactory
    from tests.factories.postmortems import big_postmortem

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        user = UserFactory(username="bench", role="responder")
        built = time.perf_counter()
        postmortem = big_postmortem(actor=user)
        build_s = time.perf_counter() - built
        web = Client()
        web.force_login(user)
        api = APIClient()
        api.force_authenticate(user)
        pages = [
            ("editor", web, f"/postmortems/{postmortem.pk}/"),
            ("print view", web, f"/postmortems/{postmortem.pk}/print/"),
            ("Markdown export", web, f"/postmortems/{postmortem.pk}/export.md"),
            ("API document", api, f"/api/v1/postmortems/{postmortem.pk}/"),
        ]
        engine = connection.vendor
        print(f"database: {engine}; runs per page: {RUNS}; built the document in {build_s:.1f} s")
        print(
            f"{'page':<16} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'queries':>7} {'KiB':>6}"
        )
        worst = 0.0
        for name, client, url in pages:
            times, queries, size = _measure(client, url)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            worst = max(worst, p95)
            print(
                f"{name:<16} {statistics.median(times):>9.1f} {p95:>7.1f} {times[-1]:>7.1f} "
                f"{queries:>7} {size / 1024:>6.0f}"
            )
        verdict = "within" if worst < TARGET_MS else "OVER"
        print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_MS} ms target")
        return 0 if worst < TARGET_MS else 1
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
