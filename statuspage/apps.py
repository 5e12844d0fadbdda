from django.apps import AppConfig


class StatuspageConfig(AppConfig):
    name = "statuspage"

    def ready(self) -> None:
        # Imported here: models are loaded only once the registry is ready.
        from notifications.channels import statuspage as channel
        from statuspage import composer, services, validation

        channel.register(
            check=validation.public_update_check,
            publish=services.public_incident_publish,
            preview=validation.public_update_preview,
            composer=composer.composer_state,
            page_preview=composer.page_preview,
        )
