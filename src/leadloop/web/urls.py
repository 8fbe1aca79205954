from django.urls import include, path

from leadloop.notifications import views as notification_views
from leadloop.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path("events/", notification_views.events, name="events"),
    path("profile/", notification_views.profile, name="profile"),
    path("queue/", views.queue, name="queue"),
    path("queue/<int:lead_id>/call/", views.queue_call, name="queue-call"),
    path("leads/import/", include("leadloop.intake.import_urls")),
    path("leads/", include("leadloop.pipeline.urls")),
    path("leads/", include("leadloop.activities.urls")),
    path("contacts/", include("leadloop.contacts.urls")),
    path("reports/", include("leadloop.reports.urls")),
    path("settings/inbox/", include("leadloop.intake.inbox_urls")),
    path("settings/", include("leadloop.core.urls")),
]
