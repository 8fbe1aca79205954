from django.urls import path

from leadloop.intake import hooks, views

urlpatterns = [
    path("<slug:workspace>/forms/<str:form_key>", views.form_hook, name="form-hook"),
    path("<slug:workspace>/<slug:provider>", hooks.provider_hook, name="provider-hook"),
]
