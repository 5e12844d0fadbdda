from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.exceptions import InvalidInput
from common.models import ApiToken
from common.tokens import DEFAULT_SCOPES, api_token_create, api_token_revoke, parse_scopes


class Command(BaseCommand):
    help = (
        "Mint an API token for a user and print its key once (only a hash is kept). "
        "--rotate first revokes the user's active tokens of the same name."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the active tokens of this name first."
        )
        parser.add_argument("--name", default="cli", help="What the token is for (default: cli).")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the token expires (default: never).",
        )
        parser.add_argument(
            "--scope",
            default=",".join(DEFAULT_SCOPES),
            help="Comma-separated scopes: read, write, intake (default: read,write).",
        )
        parser.add_argument(
            "--kind",
            choices=ApiToken.Kind.values,
            default=ApiToken.Kind.PERSONAL,
            help="personal (a person's own) or integration (a service user's, e.g. alertmanager).",
        )

    def handle(
        self, *args, username: str, rotate: bool, name: str, expires_days, scope, kind, **options
    ):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        max_name = ApiToken._meta.get_field("name").max_length
        if not name.strip() or len(name) > max_name:
            raise CommandError(f"--name must be 1 to {max_name} characters.")
        if expires_days is not None and not 1 <= expires_days <= 3650:
            raise CommandError("--expires-days must be between 1 and 3650.")
        try:
            scopes = parse_scopes(scope, field="--scope")
        except InvalidInput as exc:
            raise CommandError(f"--scope: {exc.message}") from exc
        if rotate:
            active = ApiToken.objects.filter(user=user, name=name, revoked_at__isnull=True)
            for token in active:
                api_token_revoke(token=token, actor=None)
                self.stderr.write(f"Revoked token {token.prefix}… ({name}) of {username}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token, key = api_token_create(
            user=user, name=name, actor=None, expires_at=expires_at, scopes=scopes, kind=kind
        )
        self.stderr.write(
            f"Minted {kind} token {token.prefix}… ({name}, scopes {token.scopes}) for {username}"
            + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "")
            + ". It is shown once; only its hash is stored."
        )
        self.stdout.write(key)
