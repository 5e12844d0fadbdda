"""Run the web server and a Celery worker (with beat) together, for ``make run``.

If either process dies, the other is stopped and the command exits non-zero,
so a broken worker is never hidden behind a working web page.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def public_url_for_bind(bind: str) -> str:
    """The base URL links sent out should use when Keel listens on ``bind``.

    A wildcard address (``0.0.0.0``, ``::``) is not an address anyone can visit, so
    the machine's name stands in for it.
    """
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in {"0.0.0.0", "::"}:
        host = socket.getfqdn()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}" if port else f"http://{host}"


class Command(BaseCommand):
    help = "Start gunicorn and a Celery worker (+ beat); stop both on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--web-workers", type=int, default=2)
        # Sends wait on the network, so two processes per core keep both cores busy
        # (docs/benchmarks.md: fan-out at --concurrency 2 vs 4).
        parser.add_argument("--worker-concurrency", type=int, default=4)

    def handle(self, *args, bind: str, web_workers: int, worker_concurrency: int, **options):
        python = sys.executable
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--config",
                str(settings.BASE_DIR / "config" / "gunicorn.py"),
                "--bind",
                bind,
                "--workers",
                str(web_workers),
                # Threads: a live page's event stream holds one thread (at most
                # KEEL_LIVE_MAX_STREAMS per process, fewer than the threads), never a
                # whole worker; docs/live.md.
                "--worker-class",
                "gthread",
                "--threads",
                "8",
                "--timeout",
                "30",
                "--graceful-timeout",
                "10",
                "--access-logfile",
                "-",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--schedule",
                str(settings.DATA_DIR / "celerybeat-schedule"),
                "--concurrency",
                str(worker_concurrency),
                "--loglevel",
                "INFO",
            ],
        }
        # Links in feeds, JSON, emails and CS replies follow the address Keel serves on,
        # unless KEEL_PUBLIC_URL names another one (a proxy in front, say).
        environment = {**os.environ}
        environment.setdefault("KEEL_PUBLIC_URL", public_url_for_bind(bind))
        processes = {name: subprocess.Popen(cmd, env=environment) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(f"Keel is starting on http://{bind}/"))
        self.stdout.write(f"  links sent out use {environment['KEEL_PUBLIC_URL']}/")
        self.stdout.write(
            f"  status JSON: http://{bind}/readyz   API docs: http://{bind}/api/docs/"
        )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    self.stderr.write(f"{name} exited with code {code}; stopping the rest.")
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(exit_code)
