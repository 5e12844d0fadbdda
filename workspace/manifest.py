"""What the Slack and Email pages describe: the Slack app manifest to paste into
api.slack.com/apps (JSON: Slack accepts JSON or YAML), and the mail settings the
environment gives (never the password)."""

from django.conf import settings
from django.urls import reverse

# What Keel calls: posting and editing announcements (chat:write), reading its
# channels and threads back to reconcile (channels:*, groups:*), incident channels
# (channels:manage, groups:write), who a Slack user is (users:read, users:read.email),
# direct messages (im:write), the slash command (commands).
BOT_SCOPES = [
    "channels:history",
    "channels:manage",
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "groups:write",
    "im:write",
    "users:read",
    "users:read.email",
]


def slack_app_manifest() -> dict:
    base = settings.KEEL_PUBLIC_URL.rstrip("/")
    return {
        "display_information": {
            "name": "Keel",
            "description": "Incident announcements, updates and the /incident command.",
        },
        "features": {
            "bot_user": {"display_name": "Keel", "always_online": True},
            "slash_commands": [
                {
                    "command": "/incident",
                    "url": base + reverse("slack:commands"),
                    "description": "Declare, update, move or resolve an incident",
                    "usage_hint": "declare SEV2 Checkout fails | update #12 text",
                    "should_escape": False,
                }
            ],
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "interactivity": {
                "is_enabled": True,
                "request_url": base + reverse("slack:interactions"),
            },
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def mail_settings() -> list[tuple[str, str]]:
    """(label, value) rows of the environment's mail settings; the password only as set/unset."""
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    rows = [("Backend", backend), ("From", settings.DEFAULT_FROM_EMAIL)]
    if backend == "smtp":
        rows += [
            ("Host", f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"),
            ("TLS", "yes" if settings.EMAIL_USE_TLS else "no"),
            ("User", settings.EMAIL_HOST_USER or "none"),
            ("Password", "set" if settings.EMAIL_HOST_PASSWORD else "not set"),
        ]
    elif backend == "filebased":
        rows.append(("Written to", str(settings.EMAIL_FILE_PATH)))
    return rows
