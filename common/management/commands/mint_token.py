from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the API token for a user, creating it if needed (--rotate replaces it)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the current token and mint a new one."
        )

    def handle(self, *args, username: str, rotate: bool, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        if rotate:
            deleted, _ = Token.objects.filter(user=user).delete()
            if deleted:
                self.stderr.write(f"Revoked the previous token of {username}.")
        token, created = Token.objects.get_or_create(user=user)
        if created:
            self.stderr.write(f"Minted a new token for {username}.")
        self.stdout.write(token.key)
