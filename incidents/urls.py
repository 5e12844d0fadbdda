from django.urls import path

from incidents import change_views, exports, live_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_declare, name="declare"),
    path("export.csv", exports.incident_list_csv, name="list_csv"),
    path("<int:pk>/timeline.csv", exports.incident_timeline_csv, name="timeline_csv"),
    path("live/", live_views.list_state, name="live_list"),
    path("live/stream/", live_views.list_stream, name="live_list_stream"),
    path("<int:pk>/live/", live_views.incident_state, name="live"),
    path("<int:pk>/live/stream/", live_views.incident_stream, name="live_stream"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/timeline/", views.timeline_older, name="timeline_older"),
    path("<int:pk>/history/", views.incident_history, name="history"),
    path("<int:pk>/edit/", views.incident_edit, name="edit"),
    path("<int:pk>/notes/", views.note_add, name="note_add"),
    path("<int:pk>/decisions/", views.decision_record, name="decision_record"),
    path("<int:pk>/stage/", views.stage_move, name="move"),
    path("<int:pk>/close/", views.incident_close, name="close"),
    path("<int:pk>/stage-times/", views.stage_time_correct, name="stage_time_correct"),
    path("<int:pk>/notes/<int:event_id>/edit/", views.note_edit, name="note_edit"),
    path("<int:pk>/notes/<int:event_id>/strike/", views.note_strike, name="note_strike"),
    path("<int:pk>/roles/", views.role_assign, name="role_assign"),
    path("<int:pk>/trigger-change/", change_views.trigger_change, name="trigger_change"),
    path("<int:pk>/responders/remove/", views.responder_remove, name="responder_remove"),
]
