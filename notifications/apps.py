from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # Imported in ready(): models load only once the app registry is (Django's rule).
        from common import health, metrics
        from incidents import announcements
        from notifications import metrics as delivery_metrics
        from notifications import (
            notices,
            outbox,  # noqa: F401  (registers team deliveries with the engine)
            services,
        )
        from notifications.health import delivery_checks

        # What incidents announce, delivered through the outbox (incidents imports no app).
        announcements.connect(
            announcements.Announcer(
                fan_out=services.updates_fan_out,
                role_assigned=notices.role_assigned_notify,
                public_resolve=services.public_incident_resolve,
            )
        )

        from common import invitations
        from notifications import invitation_mail

        invitations.connect_email_sender(invitation_mail.invitation_email_enqueue)

        health.register(("worker_heartbeat", "deliveries"), delivery_checks)
        metrics.register_collector("notifications", delivery_metrics.collect)
