from django.urls import path

from incidents import apis, change_apis
from incidents.intake import apis as intake_apis

urlpatterns = [
    path(
        "integrations/alertmanager/",
        intake_apis.AlertmanagerApi.as_view(),
        name="api-integrations-alertmanager",
    ),
    path("changes/", change_apis.ChangeListApi.as_view(), name="api-change-list"),
    path(
        "integrations/grafana/",
        intake_apis.GrafanaApi.as_view(),
        name="api-integrations-grafana",
    ),
    path(
        "integrations/webhook/",
        intake_apis.GenericWebhookApi.as_view(),
        name="api-integrations-webhook",
    ),
    path("incidents/", apis.IncidentListApi.as_view(), name="api-incident-list"),
    path("incidents/<int:pk>/", apis.IncidentDetailApi.as_view(), name="api-incident-detail"),
    path("incidents/<int:pk>/stage/", apis.IncidentStageApi.as_view(), name="api-incident-stage"),
    path("incidents/<int:pk>/close/", apis.IncidentCloseApi.as_view(), name="api-incident-close"),
    path(
        "incidents/<int:pk>/timeline/",
        apis.IncidentTimelineApi.as_view(),
        name="api-incident-timeline",
    ),
    path(
        "incidents/<int:pk>/stage-times/",
        apis.IncidentStageTimeApi.as_view(),
        name="api-incident-stage-times",
    ),
    path(
        "incidents/<int:pk>/timeline/<int:event_id>/",
        apis.IncidentTimelineEventApi.as_view(),
        name="api-incident-timeline-event",
    ),
    path(
        "incidents/<int:pk>/timeline/<int:event_id>/strike/",
        apis.IncidentTimelineEventStrikeApi.as_view(),
        name="api-incident-timeline-event-strike",
    ),
    path(
        "incidents/<int:pk>/decisions/",
        apis.IncidentDecisionsApi.as_view(),
        name="api-incident-decisions",
    ),
    path("incidents/<int:pk>/roles/", apis.IncidentRolesApi.as_view(), name="api-incident-roles"),
    path(
        "incidents/<int:pk>/history/",
        apis.IncidentHistoryApi.as_view(),
        name="api-incident-history",
    ),
]
