from functools import partial

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from leadloop.core.errors import ApplicationError, Forbidden, Unauthorized
from leadloop.core.ids import id_in
from leadloop.core.models import ApiToken
from leadloop.core.selectors import memberships_of
from leadloop.core.services import token_authenticate
from leadloop.notifications.forms import PreferencesForm
from leadloop.notifications.services import notification_preferences_update
from leadloop.notifications.stream import notification_events
from leadloop.web.pages import member_page


def _token_member(request) -> ApiToken | ApplicationError:
    """The `Authorization: Bearer` token of an active member, or why there is none."""
    scheme, _space, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        if request.user.is_authenticated:  # signed in, but a member of no workspace
            return Forbidden(_("You are not a member of any workspace."))
        return Unauthorized(_("Log in, or send an API token that belongs to a member."))
    token = token_authenticate(key.strip())
    if token is None:
        return Unauthorized(_("This API token is not valid."))
    if token.member is None:  # an integration's (a deactivated member's token is not valid)
        return Forbidden(_("This API token does not belong to an active member."))
    return token


def _token_still_valid(request) -> bool:
    """The token that opened a stream still authenticates an active member (as at the start)."""
    return not isinstance(_token_member(request), ApplicationError)


def _still_signed_in(request, member_id: int) -> bool:
    """The session that opened a stream still exists and still gives its (active) member."""
    session = request.session
    signed_in = session.exists(session.session_key)
    return signed_in and memberships_of(request.user).filter(pk=member_id).exists()


def _resume_point(request) -> int | None:
    """The last notification id a reconnecting client saw (`Last-Event-ID`, else `?after=`)."""
    for value in (request.headers.get("Last-Event-ID", ""), request.GET.get("after", "")):
        if (last := id_in(value.strip())) is not None:
            return last
    return None  # absent or not an id: from now on


@require_GET
async def events(request):
    """The signed-in member's notifications as server-sent events (see notifications.stream)."""
    if not isinstance(request, ASGIRequest):  # a WSGI server would read the endless stream whole
        refusal = ApplicationError(
            _("Live notifications need the ASGI server (leadloop serve)."), code="asgi_required"
        )
        return JsonResponse(refusal.as_dict(), status=501)
    member = request.member
    if member is not None:
        allowed = partial(_still_signed_in, request, member.pk)
    else:
        token = await sync_to_async(_token_member)(request)
        if isinstance(token, ApplicationError):
            response = JsonResponse(token.as_dict(), status=token.status)
            if token.status == 401:
                response["WWW-Authenticate"] = "Bearer"
            return response
        member, allowed = token.member, partial(_token_still_valid, request)
    response = StreamingHttpResponse(
        notification_events(member=member, after=_resume_point(request), allowed=allowed),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@require_http_methods(["GET", "POST"])
@member_page
def profile(request):
    """Any member's own page: who they are, and whether notifications also come by e-mail."""
    member = request.member
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            notification_preferences_update(
                member=member, actor=request.actor, email=form.cleaned_data["email_notifications"]
            )
            messages.success(request, _("Notification settings saved."))
            return redirect("profile")
    else:
        form = PreferencesForm(initial={"email_notifications": member.email_notifications})
    return render(request, "notifications/profile.html", {"form": form})
