from django.urls import path

from common.url_paths import row_paths
from incidents import apis, change_apis
from incidents.intake import apis as intake_apis


def _intake_path(source: str, api):
    """An alert source's webhook: integrations/<source>/, named api-integrations-<source>."""
    return path(f"integrations/{source}/", api.as_view(), name=f"api-integrations-{source}")


urlpatterns = [
    _intake_path("alertmanager", intake_apis.AlertmanagerApi),
    path("changes/", change_apis.ChangeListApi.as_view(), name="api-change-list"),
    _intake_path("grafana", intake_apis.GrafanaApi),
    _intake_path("webhook", intake_apis.GenericWebhookApi),
    *row_paths(
        "incidents/",
        "api-incident",
        {
            "list": apis.IncidentListApi,
            "detail": apis.IncidentDetailApi,
            "stage": apis.IncidentStageApi,
            "close": apis.IncidentCloseApi,
            "timeline": apis.IncidentTimelineApi,
            "stage-times": apis.IncidentStageTimeApi,
            "timeline-event=timeline/<int:event_id>": apis.IncidentTimelineEventApi,
            "timeline-event-strike=timeline/<int:event_id>/strike": (
                apis.IncidentTimelineEventStrikeApi
            ),
            "decisions": apis.IncidentDecisionsApi,
            "roles": apis.IncidentRolesApi,
            "history": apis.IncidentHistoryApi,
        },
    ),
]
