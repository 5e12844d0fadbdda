"""API authentication: Keel's hashed tokens, as ``Token <key>`` or ``Bearer <key>``.

Failed token checks are counted per client address (``common.ratelimit``); past
``KEEL_TOKEN_FAILURE_LIMIT`` in ``KEEL_TOKEN_FAILURE_WINDOW_SECONDS`` the address
gets 429 with ``Retry-After`` before any key is looked up, so keys cannot be
guessed at request speed.
"""

import logging

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from common import ratelimit, tokens

logger = logging.getLogger(__name__)

SCHEMES = ("token", "bearer")
SCOPES_NOTE = (
    "Tokens are scoped: `read` (GET, HEAD, OPTIONS), `write` (other methods), `intake` "
    "(`/api/v1/integrations/*`, which `write` also allows); a missing scope is 403 "
    "`insufficient_scope`. Mint one at `/me/tokens/`."
)
FAILURE_SCOPE = "token-auth-failure"


def _limits() -> tuple[int, int]:
    return settings.KEEL_TOKEN_FAILURE_LIMIT, settings.KEEL_TOKEN_FAILURE_WINDOW_SECONDS


class TokenThrottled(exceptions.Throttled):
    default_detail = "Too many failed token attempts from this address."


class KeelTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` or ``Authorization: Bearer <key>`` (RFC 6750)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode("latin-1") not in SCHEMES:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: give the scheme and the key, separated by one space."
            )
        address = ratelimit.client_address(request)
        limit, window = _limits()
        blocked = ratelimit.peek(FAILURE_SCOPE, address, limit=limit, window=window)
        if not blocked.allowed:
            raise TokenThrottled(wait=blocked.retry_after)
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            key = ""
        token = tokens.api_token_for_key(key)
        if token is None:
            decision = ratelimit.hit(FAILURE_SCOPE, address, limit=limit, window=window)
            logger.warning(
                "api token refused address=%s prefix=%s failures=%s",
                address,
                key[: tokens.PREFIX_LENGTH],
                decision.count,
            )
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        tokens.api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request):
        # Two challenges (RFC 9110 §11.6.1): clients may answer with either scheme.
        return 'Token, Bearer realm="api"'


class KeelTokenScheme(OpenApiAuthenticationExtension):
    """Both schemes in the OpenAPI document: most generators and Alertmanager,
    Grafana and CI tools send ``Bearer``; older Keel clients send ``Token``."""

    target_class = "common.auth.KeelTokenAuthentication"
    name = ["bearerAuth", "tokenAuth"]

    def get_security_requirement(self, auto_schema):
        # A list of requirements means "either" in OpenAPI; one dict would mean "both".
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer <key>` with a Keel API token. "
                + SCOPES_NOTE,
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: Token <key>` (the same key as Bearer). "
                + SCOPES_NOTE,
            },
        ]
