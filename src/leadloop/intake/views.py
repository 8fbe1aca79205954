import dataclasses

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import (
    ApplicationError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TooLarge,
    TooMany,
    ValidationFailed,
)
from leadloop.intake.forms import ChannelCreateForm, ChannelForm
from leadloop.intake.forms_intake import (
    consent_given,
    flatten,
    is_spam,
    submission_from_form,
    text_encoding,
    urlencoded_fields,
    utm_from_page,
)
from leadloop.intake.models import Channel, Touch
from leadloop.intake.providers import parse_json
from leadloop.intake.selectors import channel_get, channel_list
from leadloop.intake.services import (
    channel_create,
    channel_inbound_path,
    channel_update,
    lead_capture,
)
from leadloop.web.pages import member_page, show_error


def _error(exc: ApplicationError, headers: dict) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status, headers=_error_headers(exc, headers))


def _error_headers(exc: ApplicationError, headers: dict) -> dict:
    """The CORS `headers`, with when to try again after a refusal for speed."""
    if isinstance(exc, TooMany):
        return {**headers, "Retry-After": str(RATE_WINDOW)}
    return headers


def _with_headers(response: HttpResponse, headers: dict) -> HttpResponse:
    for name, value in headers.items():  # ResponseHeaders has no update()
        response.headers[name] = value
    return response


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
        return flatten(parse_json(request.body or b"{}"))
    if request.content_type == "application/x-www-form-urlencoded":  # Django reads UTF-8 only
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        try:
            return flatten(urlencoded_fields(request.body, request.encoding, limit))
        except ValueError:
            raise TooManyFieldsSent(f"More than {limit} fields.") from None
    return flatten(request.POST)


RATE_WINDOW = 60  # seconds
DEFAULT_RATE_LIMIT = 10  # submissions per window, per form and client address


def _check_rate(channel: Channel, request: HttpRequest) -> None:
    """A fixed window per form and client address, counted in the cache (Redis when set)."""
    limit = int(channel.settings.get("rate_limit") or DEFAULT_RATE_LIMIT)
    window = int(clock.now().timestamp()) // RATE_WINDOW
    key = f"form-rate:{channel.key}:{request.META.get('REMOTE_ADDR', '')}:{window}"
    cache.add(key, 0, RATE_WINDOW * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        count = 1
    if count > limit:
        raise TooMany(_("Too many submissions from your address. Try again in a minute."))


def _consent(channel: Channel, data: dict, request: HttpRequest) -> dict:
    """What the person agreed to, as the form showed it; required when the form asks for it."""
    text = str(channel.settings.get("consent_text") or "").strip()
    if not text:
        return {}
    if not consent_given(data):
        message = _("Tick the consent box to send the form.")
        raise ValidationFailed(message, code="consent_required", fields={"consent": [message]})
    return {
        "text": text,
        "given": True,
        "at": clock.now().isoformat(),
        "channel": channel.name,
        "page": request.headers.get("Referer", "")[:500],
    }


def _submission(channel: Channel, data: dict, request: HttpRequest):
    submission = submission_from_form(data, default_source="website")
    page_utm = utm_from_page(request.headers.get("Referer", ""))
    utm = submission.utm if any(submission.utm.values()) else {**submission.utm, **page_utm}
    campaign = submission.campaign or utm.get("utm_campaign", "")
    consent = _consent(channel, data, request)
    return dataclasses.replace(submission, utm=utm, campaign=campaign, consent=consent)


def _refusal(request: HttpRequest, exc: ApplicationError, headers: dict) -> HttpResponse:
    """The error as JSON, or as a page for a browser posting without script."""
    if not _is_browser_page(request):
        return _error(exc, headers)
    back = request.headers.get("Referer", "")
    context = {"error": exc, "back": back if back.startswith(("https://", "http://")) else ""}
    page = render(request, "intake/form_error.html", context, status=exc.status)
    return _with_headers(page, _error_headers(exc, headers))


def _is_browser_page(request: HttpRequest) -> bool:
    """A plain HTML form post from a browser (no script): it reads errors as a page."""
    return not _wants_json(request) and "text/html" in request.headers.get("Accept", "")


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
    origin = request.headers.get("Origin", "")
    headers = _cors_headers(channel, origin)
    if headers is None:
        refused = Forbidden(_("This site may not post to this form."))
        if request.method == "OPTIONS":
            return _error(refused, {})
        # the site's script may read why (it sent nothing a preflight would have to allow)
        return _refusal(request, refused, {"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    if request.method == "OPTIONS":
        return HttpResponse(status=204, headers=headers)
    if request.method != "POST":
        return _error(MethodNotAllowed(_("Use POST.")), {**headers, "Allow": "POST, OPTIONS"})
    if request.encoding and text_encoding(request.encoding) is None:  # charset=base64 would
        request.encoding = None  # fail every decoding of the request
    try:
        _check_rate(channel, request)
        data = _payload(request)
        if not is_spam(data):
            lead_capture(
                workspace=channel.workspace,
                actor=Actor.system(channel.workspace, f"form:{channel.name}"),
                submission=_submission(channel, data, request),
                kind=Touch.Kind.FORM,
                channel=channel,
                raw=data,
            )
    except ApplicationError as exc:
        return _refusal(request, exc, headers)
    if _wants_json(request):
        return JsonResponse({"ok": True}, headers=headers)
    if url := channel.settings.get("redirect_url"):
        return redirect(url)
    return _with_headers(render(request, "intake/thanks.html", {"channel": channel}), headers)


def _inbound_url(request: HttpRequest, channel: Channel) -> str:
    return request.build_absolute_uri(channel_inbound_path(channel))


def _form_snippet(channel: Channel, url: str) -> str:
    """Copy-paste HTML for a website: a plain form that works without JavaScript, and a small
    script that sends it in place and adds the page's UTM parameters."""
    context = {"url": url, "consent": channel.settings.get("consent_text", "")}
    with translation.override(channel.workspace.language):
        return render_to_string("intake/form_snippet.html", context).strip()


@member_page
def channels_page(request: HttpRequest) -> HttpResponse:
    actor = request.actor
    channels = channel_list(workspace=actor.workspace, fetched_by=actor)
    form, status = ChannelCreateForm(request.POST or None), 200
    if request.method == "POST":
        if form.is_valid():
            try:
                channel = channel_create(
                    workspace=actor.workspace, actor=actor, settings={}, **form.cleaned_data
                )
            except ApplicationError as exc:
                show_error(form, exc)
            else:
                messages.success(request, _("Channel added. Fill in its settings."))
                return redirect("settings-channel", channel_id=channel.pk)
        status = 400
    rows = [(c, _inbound_url(request, c)) for c in channels]
    return render(request, "intake/channels.html", {"rows": rows, "form": form}, status=status)


@member_page
def channel_page(request: HttpRequest, channel_id: int) -> HttpResponse:
    actor = request.actor
    channel = channel_get(workspace=actor.workspace, fetched_by=actor, channel_id=channel_id)
    form, status = ChannelForm(request.POST or None, channel=channel), 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                channel_update(
                    channel=channel,
                    actor=actor,
                    name=data["name"],
                    active=data["active"],
                    settings=form.settings(),
                )
            except ApplicationError as exc:
                show_error(form, exc)
            else:
                messages.success(request, _("Channel saved."))
                return redirect("settings-channel", channel_id=channel.pk)
        status = 400
    url = _inbound_url(request, channel)
    context = {
        "channel": channel,
        "form": form,
        "inbound_url": url,
        "snippet": _form_snippet(channel, url) if channel.kind == Channel.Kind.FORM else "",
    }
    return render(request, "intake/channel.html", context, status=status)
