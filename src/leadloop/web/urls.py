from django.urls import include, path

from leadloop.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path("leads/import/", include("leadloop.intake.import_urls")),
    path("leads/", include("leadloop.pipeline.urls")),
    path("leads/", include("leadloop.activities.urls")),
    path("reports/", include("leadloop.reports.urls")),
    path("settings/", include("leadloop.core.urls")),
]
