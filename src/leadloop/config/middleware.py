from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _

from leadloop.core.errors import ApplicationError

MACHINE_PREFIXES = ("/api/", "/hooks/")
SHAPED = {
    400: ApplicationError(
        _("The request could not be read (too large or malformed)."), code="bad_request"
    ),
    404: ApplicationError(_("Not found."), code="not_found"),
    405: ApplicationError(_("This method is not allowed here."), code="method_not_allowed"),
}


class MachineErrorMiddleware:
    """API and webhook clients get the JSON error shape for unknown paths, wrong methods and
    requests Django refuses before any view (e.g. a form body over the size limit)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = SHAPED.get(response.status_code)
        if error is None or not request.path.startswith(MACHINE_PREFIXES):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        shaped = JsonResponse(error.as_dict(), status=response.status_code)
        if allow := response.get("Allow"):
            shaped["Allow"] = allow
        return shaped
