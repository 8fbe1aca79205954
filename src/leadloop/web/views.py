from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadloop.activities.forms import CallForm
from leadloop.activities.models import Outcome
from leadloop.activities.services import Logged, activity_log
from leadloop.core import clock
from leadloop.core.errors import ValidationFailed
from leadloop.core.ids import id_in
from leadloop.notifications.selectors import notification_list, unread_count
from leadloop.notifications.services import notifications_mark_read
from leadloop.pipeline.views import lead_of
from leadloop.reports.selectors import dashboard_counts
from leadloop.routing.selectors import queue_list
from leadloop.web.forms import EmailLoginForm
from leadloop.web.pages import member_page

DASHBOARD_NOTIFICATIONS = 10
ALL_NOTIFICATIONS = 500  # "show all": the unread ones, up to this many
QUEUE_SIZE = 100

login = auth_views.LoginView.as_view(
    template_name="web/login.html",
    authentication_form=EmailLoginForm,
    redirect_authenticated_user=True,
)
logout = auth_views.LogoutView.as_view(next_page="login")


@member_page
def dashboard(request):
    actor = request.actor
    counts = {
        row["key"]: row for row in dashboard_counts(workspace=actor.workspace, fetched_by=actor)
    }
    unread = notification_list(member=request.member).filter(read_at__isnull=True)
    shown = (
        ALL_NOTIFICATIONS if request.GET.get("notifications") == "all" else DASHBOARD_NOTIFICATIONS
    )
    notes = list(unread.order_by("-created_at", "-id")[:shown])
    total = unread_count(member=request.member)  # the bell's count, read once for both
    return render(
        request,
        "web/dashboard.html",
        {
            "counts": counts,
            "notifications": notes,
            "newest_shown": max((note.pk for note in notes), default=0),
            "unread_notifications": total,
            "more_unread": max(total - len(notes), 0),
        },
    )


@require_POST
@member_page
def notifications_read(request):
    """Mark read what the dashboard showed (up to its newest), not what arrived since."""
    up_to = id_in(request.POST.get("up_to", ""))
    pairs = (item.partition(":") for item in request.POST.getlist("seen"))
    seen = {id_in(pk): id_in(count) for pk, _sep, count in pairs}
    seen = {pk: count for pk, count in seen.items() if pk is not None and count is not None}
    notifications_mark_read(member=request.member, up_to=up_to, seen=seen)
    return redirect("dashboard")


def _logged_text(logged: Logged) -> str:
    """Which lead the call was logged on (the queue has moved it meanwhile), and its stage."""
    lead = logged.activity.lead
    who = {"id": lead.pk, "name": lead.contact.label}
    stage = logged.suggested_stage
    if stage is None:
        return _("Call logged on lead #%(id)s %(name)s.") % who
    message = _("Call logged on lead #%(id)s %(name)s. Suggested stage: %(stage)s.")
    return message % {**who, "stage": stage}


def _queue_page(request, logged: Logged | None = None):
    """The queue; only its list when HTMX refreshes it (a new lead, a call just logged)."""
    actor = request.actor
    queued = queue_list(workspace=actor.workspace, fetched_by=actor)
    leads = list(queued[: QUEUE_SIZE + 1])
    context = {
        "leads": leads[:QUEUE_SIZE],
        "more": queued.count() - QUEUE_SIZE if len(leads) > QUEUE_SIZE else 0,
        "now": clock.now(),
        "outcomes": Outcome.choices,
        "logged": logged,
        "logged_text": _logged_text(logged) if logged else "",
    }
    swap = request.htmx and not request.htmx.history_restore_request
    response = render(request, "web/_queue.html" if swap else "web/queue.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@member_page
def queue(request):
    """The member's open leads, most urgent first, with one-tap call outcomes."""
    return _queue_page(request)


@require_POST
@member_page
def queue_call(request, lead_id: int):
    """An outcome tapped in the queue: a call logged as on the lead page, then the queue."""
    lead = lead_of(request, lead_id, leaving_to="queue")
    form = CallForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["outcome"]:  # the lead page's may have none
        raise ValidationFailed(_("Choose a call outcome."))
    logged = activity_log(lead=lead, actor=request.actor, **form.activity())
    if request.htmx:
        return _queue_page(request, logged)
    messages.success(request, _logged_text(logged))
    return redirect("queue")
