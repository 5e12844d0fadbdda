"""Start and stop the local OpenID Connect provider process (``serve.py``)."""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "keel"
CLIENT_SECRET = "keel-test-client-secret"
STARTUP_SECONDS = 60


@contextlib.contextmanager
def running_provider(*, port: int, workdir: Path, redirect_uri: str, users: list[dict]):
    """Yield the provider's base URL while its process runs; kill it after."""
    url = f"http://127.0.0.1:{port}"
    setup = workdir / "provider-setup.json"
    setup.write_text(
        json.dumps(
            {
                "client": {"id": CLIENT_ID, "secret": CLIENT_SECRET, "redirect_uri": redirect_uri},
                "users": users,
            }
        )
    )
    env = {
        **os.environ,
        "OIDC_PROVIDER_DB": str(workdir / "provider.sqlite3"),
        "OIDC_PROVIDER_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.oidc_provider.serve", str(port), str(setup)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        output = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError("the OIDC provider did not start in time")
        if not output or output[-1].strip() != "ready":
            raise RuntimeError("the OIDC provider did not start:\n" + "".join(output))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def keel_settings(url: str) -> dict:
    """The settings Keel would get from the KEEL_OIDC_* variables for this provider."""
    return {
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{url}/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{url}/token",
        "OIDC_OP_USER_ENDPOINT": f"{url}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{url}/jwks",
        "OIDC_RP_SIGN_ALGO": "RS256",
        "KEEL_SSO_PROVIDER_NAME": "Local IdP",
        "KEEL_OIDC_ADMIN_GROUPS": ["keel-admins"],
        "KEEL_OIDC_RESPONDER_GROUPS": ["keel-responders", "sre"],
        "KEEL_OIDC_VIEWER_GROUPS": ["keel-viewers", "support"],
    }
