"""What ``manage.py export`` and ``manage.py import`` share: one file argument
('-' for a standard stream), ``--dry-run``, and the report of rows per table on
standard error."""

from django.core.management.base import BaseCommand

from common import backup


class BackupCommand(BaseCommand):
    # The file argument's name and help, and what --dry-run does (set by each command).
    file_argument = ""
    file_help = ""
    dry_run_help = ""

    def add_arguments(self, parser):
        parser.add_argument(self.file_argument, help=self.file_help)
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)

    def write_counts(self, summary: backup.Summary, verb: str, *, where: str = "") -> None:
        """``<verb> <n> rows of <m> tables<where>.`` and a line per table."""
        total = sum(summary.counts.values())
        self.stderr.write(f"{verb} {total} rows of {len(summary.counts)} tables{where}.")
        for label, count in sorted(summary.counts.items()):
            self.stderr.write(f"  {label}: {count}")
