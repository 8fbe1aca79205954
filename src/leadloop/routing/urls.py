from django.urls import path

from leadloop.routing import views

urlpatterns = [
    path("routing/", views.rules_page, name="settings-routing"),
    path("routing/<int:rule_id>/", views.rule_page, name="settings-rule"),
    path("routing/<int:rule_id>/move/", views.rule_move, name="settings-rule-move"),
    path("routing/<int:rule_id>/delete/", views.rule_remove, name="settings-rule-delete"),
    path("sla/", views.sla_page, name="settings-sla"),
]
