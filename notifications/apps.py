from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from common import health, metrics
        from notifications import metrics as delivery_metrics
        from notifications import outbox  # noqa: F401  (registers team deliveries with the engine)
        from notifications.health import delivery_checks

        health.register(("worker_heartbeat", "deliveries"), delivery_checks)
        metrics.register_collector("notifications", delivery_metrics.collect)
