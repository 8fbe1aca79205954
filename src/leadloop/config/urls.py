from django.urls import include, path

from leadloop.config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("hooks/", include("leadloop.intake.urls")),
    path("", include("leadloop.web.urls")),
]
