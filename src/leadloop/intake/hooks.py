"""/hooks/<workspace>/<provider>: check the sender, store the delivery, answer at once."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from leadloop.core.errors import (
    ApplicationError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TooLarge,
)
from leadloop.intake.inbox import delivery_receive, delivery_refused
from leadloop.intake.models import Channel
from leadloop.intake.providers import MAX_BODY, PROVIDERS, same_text
from leadloop.intake.selectors import hook_channel

log = logging.getLogger(__name__)


def _error(exc: ApplicationError, **headers) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status, headers=headers)


def _body(request: HttpRequest) -> bytes:
    too_large = TooLarge(_("The body is larger than %(n)s bytes.") % {"n": MAX_BODY})
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        raise too_large
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise too_large
    return body


def _facebook_verify(request: HttpRequest, channel: Channel) -> HttpResponse:
    """Facebook's subscription handshake: echo hub.challenge when the verify token matches."""
    params = request.GET
    token = channel.settings.get("verify_token", "")
    challenge = params.get("hub.challenge", "")
    if (
        params.get("hub.mode") != "subscribe"
        or not same_text(token, params.get("hub.verify_token", ""))
        or not challenge
    ):
        return _error(Forbidden(_("The verify token does not match."), code="bad_verify_token"))
    return HttpResponse(challenge[:200], content_type="text/plain; charset=utf-8")


@csrf_exempt
def provider_hook(request: HttpRequest, workspace: str, provider: str) -> HttpResponse:
    handler = PROVIDERS.get(provider)
    channel = hook_channel(workspace_slug=workspace, provider=provider) if handler else None
    if channel is None:
        return _error(NotFound(_("No such workspace or channel.")))
    if request.method == "GET" and provider == Channel.Kind.FACEBOOK:
        return _facebook_verify(request, channel)
    if request.method != "POST":
        return _error(MethodNotAllowed(_("Use POST.")), Allow="POST")
    try:
        body = _body(request)
        handler.read(handler.accept(channel, request.headers, body))
    except ApplicationError as exc:
        # refused deliveries are not stored (anyone can send them); the log keeps a trace
        log.warning(
            "refused %s delivery for %s from %s: %s",
            provider,
            workspace,
            request.META.get("REMOTE_ADDR", ""),
            exc.code,
        )
        if isinstance(exc, Forbidden):  # a wrong signature or key: its channel's page says so
            delivery_refused(channel=channel)
        return _error(exc)
    delivery = delivery_receive(
        channel=channel,
        headers=request.headers,
        body=body,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
    return JsonResponse({"ok": True, "delivery": delivery.pk})
