from django.urls import path

from leadloop.intake import import_views as views

urlpatterns = [
    path("", views.import_index, name="import-index"),
    path("<int:import_id>/", views.import_detail, name="import-detail"),
    path("<int:import_id>/layout/", views.import_layout, name="import-layout"),
    path("<int:import_id>/start/", views.import_start, name="import-start"),
    path("<int:import_id>/discard/", views.import_drop, name="import-discard"),
    path("<int:import_id>/progress/", views.import_progress, name="import-progress"),
    path("<int:import_id>/errors.csv", views.import_errors, name="import-errors"),
]
