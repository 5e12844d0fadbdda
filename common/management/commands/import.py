import sys

from django.core.management.base import BaseCommand, CommandError

from common import backup
from common.management.progress import rows_progress


class Command(BaseCommand):
    help = (
        "Restore a backup written by `manage.py export` into an empty, migrated database, "
        "in one transaction (all or nothing). Refuses a database that has users or "
        "incidents, and a non-local one without --allow-remote-database."
    )

    def add_arguments(self, parser):
        parser.add_argument("input", help="File written by `manage.py export` ('-': stdin).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Load and check everything, then roll back: nothing is kept.",
        )
        parser.add_argument(
            "--allow-remote-database",
            action="store_true",
            help="Import into a database that is not on this machine.",
        )

    def handle(self, *args, input: str, dry_run: bool, allow_remote_database: bool, **options):
        if not backup.is_local_database() and not allow_remote_database:
            raise CommandError(
                "The database is not on this machine; pass --allow-remote-database if "
                "you mean to restore into it."
            )
        with rows_progress("import") as tick:
            summary = self._import(input, dry_run=dry_run, tick=tick)
        total = sum(summary.counts.values())
        verb = "Checked (dry run, rolled back)" if dry_run else "Imported"
        self.stderr.write(f"{verb} {total} rows of {len(summary.counts)} tables.")
        for label, count in sorted(summary.counts.items()):
            self.stderr.write(f"  {label}: {count}")

    def _import(self, input: str, *, dry_run: bool, tick) -> backup.Summary:
        try:
            if input == "-":
                return backup.import_from(sys.stdin, dry_run=dry_run, progress=tick)
            try:
                stream = open(input, encoding="utf-8")  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise CommandError(f"Cannot read {input}: {exc.strerror}.") from exc
            with stream:
                return backup.import_from(stream, dry_run=dry_run, progress=tick)
        except backup.BackupError as exc:
            raise CommandError(f"{exc} Nothing was imported.") from exc
