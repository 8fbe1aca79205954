"""Settings → Inbox: the webhook deliveries, their raw bodies and outcomes, and replay."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leadloop.core.errors import Conflict
from leadloop.intake.inbox import deliveries_replay_failed, delivery_replay
from leadloop.intake.models import Channel, Delivery
from leadloop.intake.providers import PROVIDERS
from leadloop.intake.selectors import delivery_get, delivery_list, delivery_status_counts
from leadloop.web.pages import member_page, paginate


@member_page
def inbox(request):
    actor = request.actor
    status = request.GET.get("status", "")
    status = status if status in Delivery.Status.values else ""
    provider = request.GET.get("provider", "")
    provider = provider if provider in PROVIDERS else ""
    deliveries = delivery_list(
        workspace=actor.workspace, fetched_by=actor, status=status, provider=provider
    )
    counts = delivery_status_counts(workspace=actor.workspace, fetched_by=actor)
    context = {
        "page": paginate(request, deliveries),
        "status": status,
        "provider": provider,
        "statuses": [(s, label, counts.get(s, 0)) for s, label in Delivery.Status.choices],
        "total": sum(counts.values()),
        "providers": [(k, label) for k, label in Channel.Kind.choices if k in PROVIDERS],
    }
    return render(request, "intake/inbox.html", context)


@member_page
def inbox_delivery(request, delivery_id: int):
    actor = request.actor
    delivery = delivery_get(workspace=actor.workspace, fetched_by=actor, delivery_id=delivery_id)
    body = PROVIDERS[delivery.provider].shown(bytes(delivery.body))
    return render(request, "intake/delivery.html", {"delivery": delivery, "body": body})


@require_POST
@member_page
def inbox_replay(request, delivery_id: int):
    actor = request.actor
    delivery = delivery_get(workspace=actor.workspace, fetched_by=actor, delivery_id=delivery_id)
    try:
        delivery_replay(workspace=actor.workspace, actor=actor, delivery=delivery)
    except Conflict as exc:  # a second press while the first replay runs, or done meanwhile
        messages.info(request, exc.message)
    else:
        messages.success(request, _("The delivery is being processed again."))
    return redirect("inbox-delivery", delivery_id=delivery.pk)


@require_POST
@member_page
def inbox_replay_failed(request):
    actor = request.actor
    count = deliveries_replay_failed(workspace=actor.workspace, actor=actor)
    messages.success(
        request,
        ngettext(
            "%(count)d failed delivery is being processed again.",
            "%(count)d failed deliveries are being processed again.",
            count,
        )
        % {"count": count},
    )
    return redirect(reverse("inbox"))
