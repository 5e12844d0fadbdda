import sys
from collections import Counter
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from common.exceptions import ApplicationError
from notifications.models import Audience, Delivery
from notifications.services import delivery_replay

REPLAYABLE = (Delivery.Status.FAILED, Delivery.Status.DEAD, Delivery.Status.SKIPPED)


class _DryRun(Exception):
    pass


def _moment(value: str, option: str) -> datetime:
    """An ISO 8601 date or date-time; a naive one is UTC."""
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:  # well formed, but no such day or time
        moment = day = None
    if moment is None:
        if day is None:
            raise CommandError(f"{option}: {value!r} is not an ISO 8601 date or date-time.")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = (
        "Replay the failed, dead or skipped team deliveries created in a time window, "
        "through the same service as the Replay button (each refused replay says why). "
        "--dry-run runs every check and rolls each replay back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="ISO 8601 date or date-time (UTC).")
        parser.add_argument("--until", help="ISO 8601 date or date-time (UTC); default: now.")
        parser.add_argument("--audience", help="Only this audience's deliveries (its slug).")
        parser.add_argument(
            "--status",
            default="failed,dead",
            help="Comma-separated statuses to replay: failed, dead, skipped (default failed,dead).",
        )
        parser.add_argument(
            "--as",
            dest="actor",
            required=True,
            help="Username recorded as the replayer (a responder or admin).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check only; change nothing.")

    def handle(self, *args, since, until, audience, status, actor, dry_run, **options):
        deliveries = self._chosen(since=since, until=until, audience=audience, status=status)
        replayer = get_user_model().objects.filter(username=actor, is_active=True).first()
        if replayer is None:
            raise CommandError(f"--as: no active user named {actor!r}.")
        outcomes: Counter = Counter()
        ids = list(deliveries.values_list("pk", flat=True))
        for pk in tqdm(ids, unit=" deliveries", file=sys.stderr, disable=None, desc="replay"):
            outcomes[self._replay(pk, replayer, dry_run=dry_run)] += 1
        self._summary(len(ids), outcomes, dry_run)

    def _chosen(self, *, since, until, audience, status):
        start = _moment(since, "--since")
        end = _moment(until, "--until") if until else timezone.now()
        if end <= start:
            raise CommandError("--until must be after --since.")
        statuses = [s.strip() for s in status.split(",") if s.strip()]
        unknown = sorted(set(statuses) - set(REPLAYABLE))
        if unknown or not statuses:
            raise CommandError(
                f"--status: {', '.join(unknown) or 'empty'}; choose from {', '.join(REPLAYABLE)}."
            )
        deliveries = Delivery.objects.filter(
            created_at__gte=start, created_at__lt=end, status__in=statuses
        )
        if audience:
            if not Audience.objects.filter(slug=audience).exists():
                slugs = ", ".join(Audience.objects.values_list("slug", flat=True))
                raise CommandError(f"--audience: no audience {audience!r} (there are: {slugs}).")
            deliveries = deliveries.filter(destination__audience__slug=audience)
        return deliveries.order_by("created_at", "pk")

    def _replay(self, pk, replayer, *, dry_run: bool) -> str:
        """One replay through the service (its own transactions: a refusal is on the
        incident's timeline); a dry run does it in a transaction rolled back. Returns
        the outcome ("replayed" or the refusal), or raises naming the delivery."""
        try:
            if dry_run:
                with transaction.atomic():
                    delivery_replay(delivery=Delivery.objects.get(pk=pk), actor=replayer)
                    raise _DryRun
            delivery_replay(delivery=Delivery.objects.get(pk=pk), actor=replayer)
        except _DryRun:
            pass
        except ApplicationError as refusal:
            return f"refused: {refusal.message}"
        except Exception as exc:
            raise CommandError(
                f"Delivery {pk} failed: {exc!r}. The deliveries before it are replayed; "
                "run again with --since after it to go on."
            ) from exc
        return "replayed"

    def _summary(self, total: int, outcomes: Counter, dry_run: bool) -> None:
        verb = "Would replay" if dry_run else "Replayed"
        self.stderr.write(f"{verb} {outcomes['replayed']} of {total} deliveries.")
        for outcome, count in sorted(outcomes.items()):
            if outcome != "replayed":
                self.stderr.write(f"  {count} {outcome}")
