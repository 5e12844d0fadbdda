from django.urls import path

from postmortems import apis

urlpatterns = [
    path("postmortems/", apis.PostmortemListApi.as_view(), name="api-postmortem-list"),
    path("postmortems/<int:pk>/", apis.PostmortemDetailApi.as_view(), name="api-postmortem-detail"),
    path(
        "postmortems/<int:pk>/submit/",
        apis.PostmortemSubmitApi.as_view(),
        name="api-postmortem-submit",
    ),
    path(
        "postmortems/<int:pk>/approve/",
        apis.PostmortemApproveApi.as_view(),
        name="api-postmortem-approve",
    ),
    path(
        "postmortems/<int:pk>/request-changes/",
        apis.PostmortemRequestChangesApi.as_view(),
        name="api-postmortem-request-changes",
    ),
    path(
        "postmortems/<int:pk>/publish/",
        apis.PostmortemPublishApi.as_view(),
        name="api-postmortem-publish",
    ),
    path(
        "postmortems/<int:pk>/retro-complete/",
        apis.PostmortemRetroCompleteApi.as_view(),
        name="api-postmortem-retro-complete",
    ),
    path(
        "postmortems/<int:pk>/export.md",
        apis.PostmortemExportApi.as_view(),
        name="api-postmortem-export",
    ),
    path("action-items/", apis.ActionItemListApi.as_view(), name="api-action-item-list"),
    path(
        "action-items/<int:pk>/",
        apis.ActionItemDetailApi.as_view(),
        name="api-action-item-detail",
    ),
    path(
        "action-items/<int:pk>/evidence/",
        apis.ActionItemEvidenceApi.as_view(),
        name="api-action-item-evidence",
    ),
]
