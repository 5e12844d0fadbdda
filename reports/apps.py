from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # Imported here: models are loaded only once the registry is ready.
        from notifications import engine
        from reports import outbox

        # Weekly digests are sent by the one delivery engine.
        engine.register(outbox.DIGESTS)
