from django.conf import settings

from common.roles import can_drive_incidents, is_admin


def keel(request):
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    return {
        "KEEL_PUBLIC_URL": settings.KEEL_PUBLIC_URL,
        "user_can_drive": authenticated and can_drive_incidents(user),
        "user_is_admin": authenticated and is_admin(user),
    }
