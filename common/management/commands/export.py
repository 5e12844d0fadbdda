import os
import tempfile

from django.core.management.base import CommandError

from common import backup
from common.management.backup_command import BackupCommand
from common.management.progress import rows_progress


class Command(BackupCommand):
    help = (
        "Write all of Keel's data (incidents, postmortems, action items, status page, "
        "settings, users, audit history) as versioned JSON Lines: a backup that "
        "`manage.py import` restores into an empty database."
    )

    file_argument = "output"
    file_help = "File to write ('-' for standard output)."
    dry_run_help = "Read and serialize everything, write nothing; print what would be written."

    def handle(self, *args, output: str, dry_run: bool, **options):
        with rows_progress("export") as tick:
            if dry_run:
                with open(os.devnull, "w", encoding="utf-8") as sink:
                    summary = backup.export_to(sink, progress=tick)
            elif output == "-":
                summary = backup.export_to(self.stdout, progress=tick)
            else:
                summary = self._export_file(output, tick)
        self._summary(summary, output, dry_run)

    def _export_file(self, output: str, tick) -> backup.Summary:
        """Written beside the target and renamed at the end: a failed export leaves
        no half file where a good backup is expected."""
        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            raise CommandError(f"No such directory: {directory}")
        handle, partial = tempfile.mkstemp(dir=directory, prefix=".keel-export-", suffix=".part")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                summary = backup.export_to(stream, progress=tick)
            os.replace(partial, output)
        except BaseException:
            os.unlink(partial)
            raise
        return summary

    def _summary(self, summary: backup.Summary, output: str, dry_run: bool) -> None:
        self.write_counts(
            summary,
            "Would write" if dry_run else "Wrote",
            where="" if dry_run or output == "-" else f" to {output}",
        )
        self.stderr.write("Left out (rebuilt by the running system):")
        for label, why in summary.left_out.items():
            self.stderr.write(f"  {label}: {why}")
