from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_page, name="index"),
    path("<slug:key>.csv", views.report_table_csv, name="table_csv"),
]
