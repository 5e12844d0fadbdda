"""Slack's request URLs (configure these in the Slack app)."""

from django.urls import path

from notifications.slack import views as slack_views

app_name = "slack"

urlpatterns = [
    path("commands/", slack_views.slack_command, name="commands"),
    path("interactions/", slack_views.slack_interaction, name="interactions"),
    path("events/", slack_views.slack_events, name="events"),
]
