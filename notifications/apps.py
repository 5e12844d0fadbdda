from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from common import health
        from notifications import outbox  # noqa: F401  (registers team deliveries with the engine)
        from notifications.health import delivery_checks

        health.register(("worker_heartbeat", "deliveries"), delivery_checks)
