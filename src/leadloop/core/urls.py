from django.urls import path

from leadloop.core import views
from leadloop.intake import views as intake_views

urlpatterns = [
    path("", views.settings_index, name="settings"),
    path("members/", views.member_add, name="settings-member-add"),
    path("members/<int:member_id>/", views.member_edit, name="settings-member-edit"),
    path(
        "members/<int:member_id>/routing/",
        views.member_routing_edit,
        name="settings-member-routing",
    ),
    path("teams/", views.team_add, name="settings-team-add"),
    path("teams/<int:team_id>/", views.team_edit, name="settings-team-edit"),
    path("stages/", views.stage_add, name="settings-stage-add"),
    path("stages/<slug:key>/", views.stage_edit, name="settings-stage-edit"),
    path("stages/<slug:key>/move/", views.stage_move, name="settings-stage-move"),
    path("tokens/", views.token_add, name="settings-token-add"),
    path("tokens/<int:token_id>/revoke/", views.token_remove, name="settings-token-revoke"),
    path("channels/", intake_views.channels_page, name="settings-channels"),
    path("channels/<int:channel_id>/", intake_views.channel_page, name="settings-channel"),
]
