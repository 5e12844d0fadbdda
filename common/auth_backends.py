from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

UserModel = get_user_model()


class ProfileModelBackend(ModelBackend):
    """Django's ``ModelBackend``, loading the session's user with its profile joined, so
    the time zone middleware (``common.timezones``) costs no query on any page.

    Replacing ``django.contrib.auth.backends.ModelBackend`` in
    ``AUTHENTICATION_BACKENDS`` signs out sessions opened before the change once
    (Django keeps a session only while its backend is still listed)."""

    def get_user(self, user_id):
        try:
            user = UserModel._default_manager.select_related("profile").get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        """A password sign-in, unless ``KEEL_PASSWORD_LOGIN`` is off (SSO only): then
        every password form (the sign-in page, the admin's) is refused here."""
        if not settings.KEEL_PASSWORD_LOGIN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
