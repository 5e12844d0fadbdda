from django.urls import path

from notifications import me_views

urlpatterns = [
    path("", me_views.my_work_page, name="my-work"),
    path("notifications/", me_views.notification_preferences, name="my-notifications"),
]
