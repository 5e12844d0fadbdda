"""The status page's readiness check, registered with ``common.health`` at start-up."""

from django.conf import settings
from django.utils import timezone

from common.health import CheckResult, timed_check
from statuspage.snapshot import generated_at


def check_statuspage_snapshot() -> CheckResult | None:
    """The public status page snapshot is fresh: a stalled publisher (workers or
    beat down) would leave customers reading an old page without anyone noticing.
    None (no check) before the first snapshot: the first change, the beat or the
    first /status/ request publishes it. A file on the local disk: no network wait."""
    try:
        stamp = generated_at()
    except Exception:
        stamp = None
    if stamp is None:
        return None

    def probe():
        age = (timezone.now() - stamp).total_seconds()
        limit = settings.STATUSPAGE_SNAPSHOT_MAX_AGE_SECONDS
        if age > limit:
            raise RuntimeError(f"snapshot is {int(age)} s old (limit {limit} s)")
        return f"{int(age)} s old"

    return timed_check("statuspage_snapshot", probe)
