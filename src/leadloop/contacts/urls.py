from django.urls import path

from leadloop.contacts import views

urlpatterns = [
    path("duplicates/", views.duplicate_queue, name="duplicate-queue"),
    path("duplicates/<int:pair_id>/dismiss/", views.duplicate_not, name="duplicate-dismiss"),
    path("<int:contact_id>/merge/", views.contact_merge_page, name="contact-merge"),
]
