"""What an API token may do: the scope each request needs, checked on every API view.

* ``GET``, ``HEAD``, ``OPTIONS`` need ``read``;
* other methods need ``write``;
* ``/api/v1/integrations/*`` (alert intake) needs ``intake`` — or ``write``, so the
  Alertmanager and Grafana configurations minted before scopes existed (their
  tokens became ``read,write``) keep working. An ``intake``-only token can open
  alerts and nothing else: the credential to paste into a monitoring system.
* ``POST /api/v1/changes/`` (a change or deploy event) needs ``intake`` or
  ``write`` too: CI reports deploys with the same narrow kind of credential.

Scopes narrow a token, never widen its user: a viewer's ``write`` token still
gets the viewer's 403 from the view. Session requests (the browser) carry no
token and are not scoped.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from common.exceptions import NotAllowed
from common.models import ApiToken

INTEGRATIONS_PREFIX = "/api/v1/integrations/"
CHANGES_PATH = "/api/v1/changes/"


class InsufficientScope(NotAllowed):
    code = "insufficient_scope"


def required_scopes(*, method: str, path: str) -> tuple[str, ...]:
    """The scopes of which a token needs any one for this request."""
    if path.startswith(INTEGRATIONS_PREFIX) or (method.upper() == "POST" and path == CHANGES_PATH):
        return (ApiToken.Scope.INTAKE, ApiToken.Scope.WRITE)
    if method.upper() in SAFE_METHODS:
        return (ApiToken.Scope.READ,)
    return (ApiToken.Scope.WRITE,)


class TokenScopePermission(BasePermission):
    """Refuse, with 403 ``insufficient_scope`` naming the missing scope, a token
    request whose token lacks the scope the method and path need."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = required_scopes(method=request.method, path=request.path)
        held = token.scope_list
        if any(scope in held for scope in needed):
            return True
        wanted = " or ".join(f"'{scope}'" for scope in needed)
        raise InsufficientScope(
            f"This token lacks the {wanted} scope needed for {request.method} "
            f"{request.path[:200]}; it has: {', '.join(held)}. "
            "Mint a token with that scope (/me/tokens/ or manage.py mint_token --scope).",
            extra={"required_scopes": list(needed), "token_scopes": held},
        )
