"""Thin task interfaces to the status page services."""

from celery import shared_task


@shared_task(name="statuspage.tasks.statuspage_publish_snapshot_task", ignore_result=True)
def statuspage_publish_snapshot_task() -> str:
    """Render every public page, JSON document, feed and badge into a new snapshot."""
    from statuspage import snapshot

    return str(snapshot.snapshot_publish())
