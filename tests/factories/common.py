"""API tokens for tests: minted through the real service, so only hashes are stored."""

from common.tokens import api_token_create


def api_key(user, *, name: str = "test", **kwargs) -> str:
    """A fresh API key for ``user`` (the service stores only its hash)."""
    return api_token_create(user=user, name=name, actor=None, **kwargs)[1]
