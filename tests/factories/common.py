"""API tokens for tests: minted through the real service, so only hashes are stored."""

from common.tokens import api_token_create


def api_key(user, *, name: str = "test", **kwargs) -> str:
    """A fresh API key for ``user`` (the service stores only its hash)."""
    return api_token_create(user=user, name=name, actor=None, **kwargs)[1]


def with_time_zone(user, time_zone: str):
    """``user`` with a display time zone, set through the preferences service."""
    from common.profiles import user_profile_update

    user_profile_update(user=user, time_zone=time_zone, actor=user)
    return user
