from django.urls import path

from leadloop.intake import views

urlpatterns = [
    path("<slug:workspace>/forms/<str:form_key>", views.form_hook, name="form-hook"),
]
