from django.urls import path

from postmortems import views

app_name = "postmortems"
urlpatterns = [
    path("<int:pk>/", views.postmortem_detail, name="detail"),
]
