from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"

    def ready(self) -> None:
        # Imported here: models are loaded only once the registry is ready.
        from notifications import engine
        from notifications.channels import statuspage as channel
        from statuspage import composer, services, subscriber_outbox, validation

        channel.register(
            check=validation.public_update_check,
            publish=services.public_incident_publish,
            preview=validation.public_update_preview,
            composer=composer.composer_state,
            page_preview=composer.page_preview,
        )
        # Subscriber notifications are sent by the one delivery engine.
        engine.register(subscriber_outbox.SUBSCRIBERS)

        from common import health, metrics
        from statuspage import health as statuspage_health
        from statuspage import metrics as statuspage_metrics

        metrics.register_collector("statuspage", statuspage_metrics.collect)
        health.register_local(statuspage_health.check_statuspage_snapshot)
