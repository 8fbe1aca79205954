from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation

from leadloop.core.access import Actor
from leadloop.core.selectors import memberships_of
from leadloop.notifications.services import reading_language_note

LANGUAGES = {code for code, _name in settings.LANGUAGES}
SESSION_LANGUAGE = "language"
SESSION_WORKSPACE = "workspace_id"


def _language(request, member) -> str:
    chosen = request.GET.get("lang", "")
    if chosen in LANGUAGES:
        request.session[SESSION_LANGUAGE] = chosen
        return chosen
    if stored := request.session.get(SESSION_LANGUAGE):
        return stored
    if member and member.language in LANGUAGES:
        return member.language
    return translation.get_language_from_request(request)


class MemberMiddleware:
    """Sets request.member and request.actor for a signed-in member, the page language and the
    workspace's time zone (pages show times as the workspace's reports count days)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = request.actor = None
        if request.user.is_authenticated:
            members = list(memberships_of(request.user))
            wanted = request.session.get(SESSION_WORKSPACE)
            request.member = next((m for m in members if m.workspace_id == wanted), None) or (
                members[0] if members else None
            )
            if request.member:
                request.actor = Actor.of(request.member)
        language = _language(request, request.member)
        if request.member:
            reading_language_note(member=request.member, language=language)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        if request.member:
            timezone.activate(ZoneInfo(request.member.workspace.time_zone))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        response.headers.setdefault("Content-Language", language)
        return response
