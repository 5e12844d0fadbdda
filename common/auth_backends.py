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
