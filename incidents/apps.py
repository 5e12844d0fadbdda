from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from common import metrics
        from incidents import metrics as incident_metrics

        metrics.register_collector("incidents", incident_metrics.collect)
