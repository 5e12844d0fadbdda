"""First run: what a fresh install needs without anyone opening Settings."""

from workspace import services


def after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` of this app: with ``SLACK_BOT_TOKEN`` set, the responders
    announce in ``SLACK_INCIDENTS_CHANNEL`` (``services.first_run_slack_destination_ensure``)."""
    if using == "default":
        services.first_run_slack_destination_ensure()
