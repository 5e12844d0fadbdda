import json
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DOCUMENT_MAX_BYTES = 256 * 1024
ENDPOINTS = {
    "KEEL_OIDC_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "KEEL_OIDC_TOKEN_ENDPOINT": "token_endpoint",
    "KEEL_OIDC_USERINFO_ENDPOINT": "userinfo_endpoint",
    "KEEL_OIDC_JWKS_ENDPOINT": "jwks_uri",
}


class Command(BaseCommand):
    help = (
        "Read an OpenID Connect provider's discovery document "
        "(<issuer>/.well-known/openid-configuration) and print the KEEL_OIDC_*_ENDPOINT "
        "variables to put in Keel's environment (docs/sso.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("issuer", help="e.g. https://accounts.google.com")

    def handle(self, *args, issuer: str, **options):
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        if not url.startswith(("https://", "http://")):
            raise CommandError("Give the issuer as an http(s) URL.")
        # An operator's one-off read, bounded like the sign-in calls (OIDC_TIMEOUT); not
        # through common.outbound, which refuses the private addresses an in-house
        # provider (Keycloak on 10.x) lives on.
        try:
            with urllib.request.urlopen(url, timeout=settings.OIDC_TIMEOUT) as response:
                document = json.loads(response.read(DOCUMENT_MAX_BYTES))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Could not read {url}: {exc}") from exc
        missing = [key for key in ENDPOINTS.values() if not document.get(key)]
        if missing:
            raise CommandError(f"{url} names no {', '.join(missing)}.")
        for variable, key in ENDPOINTS.items():
            self.stdout.write(f"{variable}={document[key]}")
        algorithms = document.get("id_token_signing_alg_values_supported") or []
        if "RS256" not in algorithms:
            self.stdout.write(f"# the provider signs with {algorithms}: set KEEL_OIDC_SIGN_ALGO")
