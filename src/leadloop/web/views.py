from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leadloop.notifications.selectors import notification_list
from leadloop.notifications.services import notifications_mark_read
from leadloop.reports.selectors import dashboard_counts
from leadloop.web.forms import EmailLoginForm
from leadloop.web.pages import member_page

DASHBOARD_NOTIFICATIONS = 10

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
    return render(
        request,
        "web/dashboard.html",
        {
            "counts": counts,
            "notifications": unread[:DASHBOARD_NOTIFICATIONS],
        },
    )


@require_POST
@member_page
def notifications_read(request):
    notifications_mark_read(member=request.member)
    return redirect("dashboard")
