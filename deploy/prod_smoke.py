"""`make prod-smoke`: run exactly what docker-compose.yml runs, without Docker.

The plan is read from docker-compose.yml, the Dockerfile and .env.example themselves
(so it cannot drift from them): the image's build step (collectstatic), the `migrate`
service, gunicorn `web`, the Celery `worker` and `beat`, and nginx (`statuspage`)
with deploy/nginx-statuspage.conf; the environment is .env.example copied to .env as
the README says, with compose's `environment:` over it. Only what names the
containers' world is translated to this machine (`TRANSLATED`): the database and Redis
hosts become the local services (a database and a Redis DB of the smoke's own), the
`/data` and `/app/staticfiles` paths a temporary directory, the listen ports free
ones, plus two values an operator must change (SECRET_KEY) or that the smoke's
loopback receiver needs (KEEL_WEBHOOKS_ALLOW_PRIVATE). Each is printed.

Then, as an operator would: the first admin (createsuperuser), a sign-in through the
login form, a webhook destination added in the admin, an API token (mint_token), an
incident declared through the API and its announcement received by a webhook through
the worker, the status page and its JSON through nginx, and static files through
gunicorn and nginx. Exit status 0 only if every check passed.
"""

import http.cookies
import http.server
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.statuspage import free_port, production_nginx_conf  # noqa: E402

DATABASE = "keel_prod_smoke"
REDIS_DB = 11
HOST = "keel.example.com"  # .env.example's ALLOWED_HOSTS
APP_SERVICES = ("migrate", "web", "worker", "beat")
PASSWORD = "smoke-" + secrets.token_urlsafe(12)
# What the smoke changes, and why (printed when it starts).
TRANSLATED = {
    "DATABASE_URL": "the compose `db` container → the local PostgreSQL, database "
    f"{DATABASE} (created and dropped by the smoke)",
    "REDIS_URL": f"the compose `redis` container → the local Redis, DB {REDIS_DB}",
    "SECRET_KEY": ".env.example's placeholder → a random key, as an operator sets one",
    "KEEL_WEBHOOKS_ALLOW_PRIVATE": "0 → 1: the smoke's webhook receiver is on loopback",
    "KEEL_METRICS_TOKEN": "empty → a random token, to scrape /metrics as Prometheus would",
}
METRICS_TOKEN = secrets.token_urlsafe(24)


def env_file(path: Path) -> dict[str, str]:
    """Compose's env_file reading: KEY=VALUE lines, # comments, the last one wins."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def dockerfile_env(path: Path) -> dict[str, str]:
    found = re.search(r"^ENV (.+)$", path.read_text(), flags=re.M)
    return dict(pair.split("=", 1) for pair in shlex.split(found.group(1))) if found else {}


def dockerfile_build_commands(path: Path) -> list[list[str]]:
    """The `manage.py` steps of the image's RUN (collectstatic), with their env."""
    text = path.read_text().replace("\\\n", " ")
    commands = []
    for run in re.findall(r"^RUN (.+)$", text, flags=re.M):
        for step in run.split("&&"):
            if "manage.py" in step:
                commands.append(shlex.split(step.strip()))
    return commands


@dataclass
class Plan:
    """What compose would run, translated to this machine."""

    commands: dict[str, list[str]]
    environment: dict[str, str]
    build: list[list[str]]
    web_port: int
    status_port: int
    nginx_conf: Path
    data: Path
    static: Path
    paths: dict[str, str] = field(default_factory=dict)


def plan(workdir: Path) -> Plan:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    data, static = workdir / "data", workdir / "staticfiles"
    paths = {"/data": str(data), "/app/staticfiles": str(static)}
    web_port, status_port = free_port(), free_port()

    # .env.example copied to .env (README), then compose's environment over it;
    # the image's ENV is below both (compose overrides it).
    shutil.copy(ROOT / ".env.example", workdir / ".env")
    environment = dockerfile_env(ROOT / "Dockerfile")
    app = services["web"]
    for name in (
        app.get("env_file", []) if isinstance(app.get("env_file"), list) else [app["env_file"]]
    ):
        assert name == ".env", f"compose reads {name}; the smoke knows only .env"
        environment.update(env_file(workdir / ".env"))
    environment.update({k: str(v) for k, v in (app.get("environment") or {}).items()})
    environment.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        SECRET_KEY=secrets.token_urlsafe(50),
        KEEL_WEBHOOKS_ALLOW_PRIVATE="1",
        KEEL_METRICS_TOKEN=METRICS_TOKEN,
    )
    environment = {key: _translate(value, paths) for key, value in environment.items()}

    commands = {}
    for name in APP_SERVICES:
        command = [_translate(part, paths) for part in services[name]["command"]]
        commands[name] = [part.replace("0.0.0.0:8000", f"127.0.0.1:{web_port}") for part in command]
    volumes = services["statuspage"]["volumes"]
    conf = next(v.split(":")[0] for v in volumes if v.endswith("/etc/nginx/nginx.conf:ro"))
    build = [
        [_translate(p, paths) for p in step]
        for step in dockerfile_build_commands(ROOT / "Dockerfile")
    ]
    return Plan(
        commands=commands,
        environment=environment,
        build=build,
        web_port=web_port,
        status_port=status_port,
        nginx_conf=(ROOT / conf).resolve(),
        data=data,
        static=static,
        paths=paths,
    )


def _translate(value: str, paths: dict[str, str]) -> str:
    for container, local in paths.items():
        if value == container or value.startswith(container + "/"):
            return local + value[len(container) :]
    return value


class Smoke:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.plan = plan(workdir)
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            **self.plan.environment,
        }
        self.cookies: dict[str, str] = {}
        self.received: list[dict] = []
        self.failures: list[str] = []

    # -- processes -------------------------------------------------------------

    def run(self, argv: list[str], *, extra: dict | None = None, timeout: int = 300) -> str:
        result = subprocess.run(
            argv,
            cwd=ROOT,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise RuntimeError(f"{shlex.join(argv)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (closed with the run)
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print(f"  started {name}: {shlex.join(argv)}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # -- HTTP ------------------------------------------------------------------

    def request(self, path: str, *, port: int | None = None, data=None, headers=None):
        """One request as a browser behind the TLS proxy sends it (Host, https)."""
        url = f"http://127.0.0.1:{port or self.plan.web_port}{path}"
        sent = {"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = data
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(url, data=body, headers=sent)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            response = opener.open(request, timeout=15)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            for morsel in http.cookies.SimpleCookie(header).values():
                self.cookies[morsel.key] = morsel.value
        return response.status, response.headers, response.read().decode("utf-8", "replace")

    def wait_ready(self, timeout: float = 60) -> None:
        """Compose's own healthcheck of `web`, pointed at the smoke's port."""
        check = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"][
            "healthcheck"
        ]["test"]
        argv = [
            part.replace("127.0.0.1:8000", f"127.0.0.1:{self.plan.web_port}") for part in check[1:]
        ]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run(argv, env=self.env, capture_output=True).returncode == 0:
                return
            self._alive()
            time.sleep(0.5)
        raise RuntimeError(f"web's healthcheck (/readyz) did not pass within {timeout} s")

    def _alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        print(
            f"  {'ok  ' if ok else 'FAIL'} {what}" + (f" — {detail}" if detail and not ok else "")
        )
        if not ok:
            self.failures.append(what)

    # -- the run ---------------------------------------------------------------

    def receiver(self) -> int:
        smoke = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                smoke.received.append({"headers": dict(self.headers), "body": body.decode()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.server_address[1]

    def database(self, create: bool) -> None:
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c"]
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"], check=True)
        if create:
            subprocess.run([*psql, f"CREATE DATABASE {DATABASE}"], check=True)

    def nginx(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        prefix = self.workdir / "nginx"
        (prefix / "tmp").mkdir(parents=True)
        snapshot = Path(self.plan.environment["STATUSPAGE_SNAPSHOT_DIR"]) / "current"
        assert self.plan.nginx_conf == ROOT / "deploy" / "nginx-statuspage.conf"
        conf = production_nginx_conf(prefix, self.plan.status_port, snapshot, self.plan.web_port)
        if os.geteuid() == 0:
            conf = "user root;\n" + conf
        (prefix / "nginx.conf").write_text(conf)
        self.start(
            "statuspage",
            [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        )

    def main(self) -> int:
        print("prod-smoke: what docker-compose.yml runs, on this machine")
        for name, why in TRANSLATED.items():
            print(f"  {name}: {why}")
        for container, local in self.plan.paths.items():
            print(f"  {container} → {local}")
        self.plan.data.mkdir(parents=True)
        self.database(create=True)
        self.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"])
        try:
            for step in self.plan.build:  # the image's build: collectstatic
                env_pairs = [p for p in step if re.match(r"^[A-Z_]+=", p)]
                argv = [p for p in step if p not in env_pairs]
                self.run(argv, extra=dict(p.split("=", 1) for p in env_pairs))
            print("  built: collectstatic")
            self.run(self.plan.commands["migrate"])
            print("  migrate: done")
            for name in ("web", "worker", "beat"):
                self.start(name, self.plan.commands[name])
            self.nginx()
            self.wait_ready()
            self.checks()
        except Exception as exc:  # report, with the processes' logs, then clean up
            self.failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.stop()
            self.database(create=False)
            self.run(["redis-cli", "-n", str(REDIS_DB), "FLUSHDB"])
        if self.failures:
            print("\nprod-smoke FAILED:\n  " + "\n  ".join(self.failures))
            for log in sorted(self.workdir.glob("*.log")):
                print(
                    f"\n--- {log.name} (last lines)\n"
                    + "\n".join(log.read_text().splitlines()[-25:])
                )
            return 1
        print("\nprod-smoke passed.")
        return 0

    def checks(self) -> None:
        manage = ["python", "manage.py"]
        self.run(
            [
                *manage,
                "createsuperuser",
                "--no-input",
                "--username",
                "admin",
                "--email",
                "admin@example.com",
            ],
            extra={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        )

        status, _, page = self.request("/login/")
        self.check("the login page renders", status == 200, f"HTTP {status}")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        origin = {"Origin": f"https://{HOST}", "Referer": f"https://{HOST}/login/"}
        status, _, _ = self.request(
            "/login/",
            data={"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers=origin,
        )
        self.check(
            "sign-in through the form",
            status == 302 and "sessionid" in self.cookies,
            f"HTTP {status}",
        )
        status, _, page = self.request("/incidents/")
        self.check("the incident list for the signed-in admin", status == 200, f"HTTP {status}")

        static = re.search(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
        self.check("the page links a static file", bool(static))
        if static:
            status, _, _ = self.request(static.group(1))
            self.check(
                f"static file through gunicorn ({static.group(1)})", status == 200, f"HTTP {status}"
            )
            status, _, _ = self.request(static.group(1), port=self.plan.status_port)
            self.check("static file through nginx", status == 200, f"HTTP {status}")

        receiver = self.receiver()
        self.add_webhook(receiver, origin)
        key = self.run([*manage, "mint_token", "admin", "--name", "prod-smoke"]).strip()
        api = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        title = f"Smoke test incident {secrets.token_hex(3)}"
        status, _, body = self.request(
            "/api/v1/incidents/",
            headers=api,
            data=json.dumps(
                {"title": title, "severity": "SEV2", "summary": "Declared by make prod-smoke."}
            ).encode(),
        )
        self.check(
            "declare an incident through the API (Bearer token)",
            status == 201,
            f"HTTP {status}: {body[:300]}",
        )
        status, _, body = self.request("/api/v1/incidents/", headers=api)
        self.check("the API lists it", status == 200 and title in body, f"HTTP {status}")

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(title in r["body"] for r in self.received):
            self._alive()
            time.sleep(0.3)
        hook = next((r for r in self.received if title in r["body"]), None)
        self.check(
            "the worker delivered the announcement to the webhook",
            hook is not None,
            f"{len(self.received)} other requests received",
        )
        if hook:
            self.check(
                "the webhook is signed", "webhook-signature" in {k.lower() for k in hook["headers"]}
            )

        status, _, body = self.request(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        declared = sum(
            float(value)
            for value in re.findall(
                r'^keel_incidents_declared_total\{[^}]*severity="SEV2"[^}]*\} (\S+)$', body, re.M
            )
        )
        self.check(
            "/metrics (token) counts the declared incident",
            status == 200 and declared == 1,
            f"HTTP {status}, {declared} SEV2 declared",
        )
        for path, marker in (("/status/", "<html"), ("/api/v2/summary.json", '"page"')):
            deadline = time.monotonic() + 30
            while True:
                status, _, body = self.request(path, port=self.plan.status_port)
                if (status == 200 and marker in body) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            self.check(f"{path} through nginx", status == 200 and marker in body, f"HTTP {status}")
        status, _, _ = self.request("/admin/", port=self.plan.status_port)
        self.check(
            "the app is not reachable through the status page's nginx",
            status == 404,
            f"HTTP {status}",
        )

    def add_webhook(self, port: int, origin: dict) -> None:
        status, _, form = self.request("/admin/notifications/destination/add/")
        audience = re.search(r'<option value="(\d+)"[^>]*>Responders', form)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        if status != 200 or not audience or not token:
            self.check("the admin's destination form", False, f"HTTP {status}")
            return
        status, _, body = self.request(
            "/admin/notifications/destination/add/",
            headers={**origin, "Referer": f"https://{HOST}/admin/notifications/destination/add/"},
            data={
                "csrfmiddlewaretoken": token.group(1),
                "audience": audience.group(1),
                "kind": "webhook",
                "name": "Smoke receiver",
                "target": f"http://127.0.0.1:{port}/hook",
                "enabled": "on",
                "_save": "Save",
            },
        )
        self.check(
            "a webhook destination added in the admin",
            status == 302,
            f"HTTP {status}: {re.findall(r'errorlist[^>]*><li>([^<]+)', body)[:3]}",
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="keel-prod-smoke-") as workdir:
        sys.exit(Smoke(Path(workdir)).main())
