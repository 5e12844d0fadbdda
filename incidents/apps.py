from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        # Imported in ready(): models load only once the app registry is (Django's rule).
        from common import metrics
        from incidents import metrics as incident_metrics

        metrics.register_collector("incidents", incident_metrics.collect)
