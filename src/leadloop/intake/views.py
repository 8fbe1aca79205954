import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from leadloop.core.access import Actor
from leadloop.core.errors import ApplicationError, Forbidden, NotFound, TooLarge
from leadloop.intake.forms_intake import flatten, is_spam, submission_from_form
from leadloop.intake.models import Channel, Touch
from leadloop.intake.services import lead_capture


def _error(exc: ApplicationError, headers: dict) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status, headers=headers)


def _cors_headers(channel: Channel, origin: str) -> dict | None:
    """CORS headers for an allowed origin, {} for a same-origin post, None for a refused one."""
    if not origin:
        return {}
    allowed = channel.settings.get("allowed_origins") or []
    if isinstance(allowed, str):
        allowed = allowed.split()
    if "*" not in allowed and origin.rstrip("/") not in [a.rstrip("/") for a in allowed]:
        return None
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type",
        "Vary": "Origin",
    }


def _payload(request: HttpRequest) -> dict:
    try:
        return _parsed(request)
    except RequestDataTooBig:
        raise TooLarge(_("The form data is too large.")) from None


def _parsed(request: HttpRequest) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ApplicationError(
                _("The body is not valid JSON."), code="malformed_json"
            ) from None
        if not isinstance(data, dict):
            raise ApplicationError(_("Send a JSON object."), code="malformed_json")
        return flatten(data)
    return flatten(request.POST)


def _wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "json" in request.headers.get("Accept", "")


@csrf_exempt
def form_hook(request: HttpRequest, workspace: str, form_key: str) -> HttpResponse:
    channel = (
        Channel.objects.select_related("workspace")
        .filter(workspace__slug=workspace, key=form_key, kind=Channel.Kind.FORM, active=True)
        .first()
    )
    if channel is None:
        return _error(NotFound(_("Unknown form.")), {})
    headers = _cors_headers(channel, request.headers.get("Origin", ""))
    if headers is None:
        return _error(Forbidden(_("This origin may not post to this form.")), {})
    if request.method == "OPTIONS":
        return HttpResponse(status=204, headers=headers)
    if request.method != "POST":
        return _error(ApplicationError(_("Use POST."), code="method_not_allowed"), headers)
    try:
        data = _payload(request)
        if not is_spam(data):
            lead_capture(
                workspace=channel.workspace,
                actor=Actor.system(channel.workspace, f"form:{channel.name}"),
                submission=submission_from_form(data, default_source="website"),
                kind=Touch.Kind.FORM,
                channel=channel,
                raw=data,
            )
    except ApplicationError as exc:
        return _error(exc, headers)
    if _wants_json(request):
        return JsonResponse({"ok": True}, headers=headers)
    if url := channel.settings.get("redirect_url"):
        return redirect(url)
    response = render(request, "intake/thanks.html", {"channel": channel})
    for name, value in headers.items():  # ResponseHeaders has no update()
        response.headers[name] = value
    return response
