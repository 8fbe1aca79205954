from django.urls import path

from leadloop.intake import inbox_views

urlpatterns = [
    path("", inbox_views.inbox, name="inbox"),
    path("replay/", inbox_views.inbox_replay_failed, name="inbox-replay-failed"),
    path("<int:delivery_id>/", inbox_views.inbox_delivery, name="inbox-delivery"),
    path("<int:delivery_id>/replay/", inbox_views.inbox_replay, name="inbox-replay"),
]
