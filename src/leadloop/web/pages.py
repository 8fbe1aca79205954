"""What every server-rendered page shares: access, error display, pagination, drill-down links."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from leadloop.core.errors import ApplicationError, Forbidden, NotFound

PAGE_SIZE = 50


class LeavePage(Exception):
    """The page cannot be shown or the form not saved, for a reason the member should read on
    the page they are sent to (`to`, a URL name)."""

    def __init__(self, message: str, to: str):
        super().__init__(message)
        self.message, self.to = message, to


def _leave(request, leaving: LeavePage):
    messages.warning(request, leaving.message)
    if request.htmx:
        return HttpResponseClientRedirect(reverse(leaving.to))
    return redirect(leaving.to)


def member_page(view):
    """Signed-in members only; a service's Forbidden becomes the 403 page, NotFound a 404,
    LeavePage a redirect with its message."""

    @login_required
    @wraps(view)
    def page(request, *args, **kwargs):
        if request.actor is None:
            return render(request, "web/no_membership.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except LeavePage as leaving:
            return _leave(request, leaving)
        except Forbidden as exc:
            return render(request, "web/forbidden.html", {"message": exc.message}, status=403)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            return render(request, "web/error.html", {"message": exc.message}, status=exc.status)

    return page


def show_error(form, exc: ApplicationError) -> None:
    """Put a service's error on the form: its field messages on the fields (a form's
    `service_fields` names its field for a service's field of another name), its message on top
    unless a field already says it.

    Forbidden is no input problem: it goes on to the 403 page. Some services list the offending
    value under a field instead of a message; a value equal to the input is not repeated.
    """
    if isinstance(exc, Forbidden):
        raise exc
    placed = set()
    for field, field_messages in exc.fields.items():
        name = getattr(form, "service_fields", {}).get(field, field)
        submitted = str(form.data.get(form.add_prefix(name), ""))
        for message in field_messages:
            if name in form.fields and message and message != submitted:
                form.add_error(name, message)
                placed.add(str(message))
    if str(exc.message) not in placed:
        form.add_error(None, exc.message)


def swapped(items: list, item, step: int) -> list:
    """`items` with `item` swapped with its neighbour (step -1: up, +1: down)."""
    i = items.index(item)
    j = min(max(i + step, 0), len(items) - 1)
    items[i], items[j] = items[j], items[i]
    return items


def paginate(request, items) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def htmx_render(request, template: str, partial: str, context: dict, status: int = 200):
    """The whole page, or only `partial` when HTMX asks for a swap.

    A swap pushes the address without the form's empty fields, so it is short enough to share.
    """
    swap = request.htmx and not request.htmx.history_restore_request
    response = render(request, partial if swap else template, context, status=status)
    if swap:
        filled = urlencode([(name, value) for name, value in request.GET.items() if value])
        response["HX-Push-Url"] = f"{request.path}?{filled}" if filled else request.path
    patch_vary_headers(response, ["HX-Request"])
    return response
