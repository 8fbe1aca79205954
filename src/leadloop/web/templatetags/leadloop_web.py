"""Display helpers: labels for stored codes, drill-down links, pretty JSON, percentages, the
language switch's links."""

import json
from datetime import datetime
from urllib.parse import urlsplit

from django import template
from django.http import QueryDict
from django.template.defaultfilters import floatformat
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from leadloop.activities.models import Outcome
from leadloop.intake.models import Touch
from leadloop.notifications.services import notification_link
from leadloop.routing.models import ASSIGN_REASONS, Timer

register = template.Library()
register.filter("notification_link", notification_link)  # (where it leads, what that is)

QUALITY_ISSUES = {
    "name_missing": _("Name is missing"),
    "name_has_digits": _("Name contains digits"),
    "phone_missing": _("Phone number is missing"),
    "phone_invalid": _("Phone number is not valid"),
    "email_invalid": _("E-mail address is not valid"),
}
DUPLICATE_REASONS = {
    "phone_email_split": _("One submission's phone is one's, its e-mail the other's"),
    "same_phone": _("Same phone number"),
    "phone_typo": _("Similar name, phone one digit apart"),
    "email_local": _("Same e-mail name at another domain"),
}
SLA_STATES = {"met": _("Met on time"), "breached": _("Breached"), "pending": _("Pending")}
DELIVERY_OUTCOMES = {
    "created": pgettext_lazy("delivery outcome", "New lead"),
    "joined": _("Joined an open lead"),
    "duplicate": _("Received before"),
    "failed": _("Failed"),
}
MERGE_FIELD_LABELS = {"full_name": _("name"), "phone": _("phone"), "email": _("e-mail")}


@register.filter
def leads_url(flt) -> str:
    return flt.page_url()


@register.filter
def moment(text) -> datetime | None:
    """An ISO 8601 time kept as text (in a timeline row's data) as a datetime, for `date`."""
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


@register.filter
def phone_shown(contact) -> str:
    """A valid Vietnamese number as people write it, whatever form it came in ("0912 345 678",
    landlines "024 3826 1234"); any other valid number in E.164; an invalid one as given."""
    e164, raw = contact.phone_e164, contact.phone_raw
    if not contact.phone_valid or not e164:
        return raw
    if not e164.startswith("+84"):
        return e164
    national = "0" + e164[3:]
    if len(national) == 10:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    if len(national) == 11 and national.startswith("02"):
        return f"{national[:3]} {national[3:7]} {national[7:]}"
    return national


@register.filter
def delivery_outcome(code: str) -> str:
    return DELIVERY_OUTCOMES.get(code, code)


@register.filter
def merge_dropped(dropped: dict) -> str:
    """What a merge did not keep, in the fields' order (PostgreSQL's jsonb reorders keys)."""
    return "; ".join(
        f"{label} {dropped[name]}" for name, label in MERGE_FIELD_LABELS.items() if name in dropped
    )


@register.filter
def outcome_label(code: str) -> str:
    return Outcome(code).label if code in Outcome.values else code


@register.filter
def touch_kind_label(code: str) -> str:
    return Touch.Kind(code).label if code in Touch.Kind.values else code


@register.filter
def quality_label(code: str) -> str:
    return QUALITY_ISSUES.get(code, code)


@register.filter
def duplicate_reason(code: str) -> str:
    return DUPLICATE_REASONS.get(code, code)


@register.filter
def assign_reason(code: str) -> str:
    return ASSIGN_REASONS.get(code, code)


@register.filter
def obligation_label(lead) -> str:
    """What a lead of the queue owes next: "First contact", "Call attempt 2"."""
    if lead.due_kind == Timer.Kind.ATTEMPT:
        return _("Call attempt %(n)s") % {"n": lead.due_attempt}
    return Timer.Kind(lead.due_kind).label if lead.due_kind in Timer.Kind.values else ""


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


@register.filter
def percent(fraction: float) -> str:
    return f"{floatformat(fraction * 100, 1)} %"


@register.filter
def sla_state(code: str) -> str:
    return SLA_STATES.get(code, code)


@register.filter
def duration(seconds) -> str:
    """A lateness or a call's length in seconds, shortly: 40 s, 12 min, 2 h 5 min, 3 d 4 h; "—"
    when unknown."""
    if seconds is None or seconds == "":
        return "—"
    total = max(0, round(float(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return gettext("%(d)s d %(h)s h") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    if minutes:
        return gettext("%(m)s min") % {"m": minutes}
    return gettext("%(s)s s") % {"s": secs}


@register.simple_tag(takes_context=True)
def language_url(context, code: str) -> str:
    """This page in another language. A page shown in answer to a form (a POST: an error under
    a field) has no address of its own to ask again: the page the form was on, else home."""
    request = context["request"]
    if request.method in ("GET", "HEAD"):
        page, query = request.path, request.GET.copy()
    else:
        page, query = _form_page(request)
    query["lang"] = code
    return f"{page}?{query.urlencode()}"


def _form_page(request) -> tuple[str, QueryDict]:
    home = "/", QueryDict(mutable=True)
    try:
        referer = urlsplit(request.headers.get("Referer", ""))
    except ValueError:  # not an address ("http://[::1")
        return home
    same_site = url_has_allowed_host_and_scheme(
        referer.geturl(), allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not (same_site and referer.netloc):
        return home
    return referer.path or "/", QueryDict(referer.query, mutable=True)
