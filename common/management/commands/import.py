import sys

from django.core.management.base import CommandError

from common import backup
from common.management.backup_command import BackupCommand
from common.management.progress import rows_progress


class Command(BackupCommand):
    help = (
        "Restore a backup written by `manage.py export` into an empty, migrated database, "
        "in one transaction (all or nothing). Refuses a database that has users or "
        "incidents, and a non-local one without --allow-remote-database."
    )

    file_argument = "input"
    file_help = "File written by `manage.py export` ('-': stdin)."
    dry_run_help = "Load and check everything, then roll back: nothing is kept."

    def add_arguments(self, parser):
        super().add_arguments(parser)
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
        self.write_counts(summary, "Checked (dry run, rolled back)" if dry_run else "Imported")

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
