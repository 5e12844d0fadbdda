from django.urls import path

from postmortems import exports, learning_views, views

app_name = "postmortems"
urlpatterns = [
    path("", views.postmortem_list, name="index"),
    path("action-items/", views.action_items, name="action_items"),
    path("action-items.csv", exports.action_items_csv, name="action_items_csv"),
    path(
        "action-items/<int:pk>/evidence/",
        learning_views.action_item_evidence,
        name="action_item_evidence",
    ),
    path("reviews/", views.reviews_waiting, name="reviews"),
    path("templates/", views.templates, name="templates"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("preview/", views.markdown_preview, name="preview"),
    path("similar/", learning_views.similar_suggestions, name="similar"),
    path("similar/incident/<int:pk>/", learning_views.incident_similar, name="incident_similar"),
    path("start/<int:incident_pk>/", views.postmortem_start, name="start"),
    path("<int:pk>/", views.postmortem_detail, name="detail"),
    path("<int:pk>/sections/<slug:key>/", views.section_save, name="section_save"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/review/", views.review_post, name="review"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/retro-complete/", views.retro_complete, name="retro_complete"),
    path("<int:pk>/print/", views.print_view, name="print"),
    path("<int:pk>/export.md", views.export_markdown, name="export"),
    path("<int:pk>/history/", views.history, name="history"),
]
