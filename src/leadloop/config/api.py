"""The NinjaAPI object: bearer-token auth and the one mapping of errors to JSON."""

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError

from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.errors import (
    ApplicationError,
    NotFound,
    TooLarge,
    Unauthorized,
    ValidationFailed,
)
from leadloop.core.ids import MAX_ID
from leadloop.core.services import token_authenticate

log = logging.getLogger(__name__)


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str) -> Actor | None:
        found = token_authenticate(token)
        if found is None:
            return None
        now = clock.now()
        if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=5):
            type(found).objects.filter(pk=found.pk).update(last_used_at=now)
        return Actor(
            workspace=found.workspace,
            role=found.role,
            member=found.member,
            label=f"token:{found.name}",
        )


api = NinjaAPI(
    title="LeadLoop API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _holds_nul(value) -> bool:
    """Whether a text in `value` (keys of objects included) holds a NUL character; walked with
    a stack, not recursion, so JSON nested thousands deep is refused by the type checks after."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class Input(BaseModel):
    """What a client sends, body or query: a text holding a NUL character (which PostgreSQL
    cannot store and SQLite would) is refused on its field, whichever the database."""

    @field_validator("*", mode="before")
    @classmethod
    def _without_nul(cls, value):
        if _holds_nul(value):
            raise PydanticCustomError("nul_character", _nul_message())
        return value


def _nul_message() -> str:
    return _("A text here holds a NUL character (\\u0000), which cannot be stored.")


def nul_refused(texts: dict[str, str]) -> None:
    """`Input`'s refusal for the texts of a form (multipart) body, by field."""
    if wrong := [name for name, text in texts.items() if _holds_nul(text)]:
        message = _nul_message()
        raise ValidationFailed(_("The request is not valid."), fields={n: [message] for n in wrong})


MAX_PAGE_SIZE = 200
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


class PageQuery(Schema, Input):
    """`?page=N&page_size=M` of every list (CONTRACT.md: M ≤ 200)."""

    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


def page_of(items, query: PageQuery, out: Callable = lambda item: item) -> dict:
    """One page of a queryset in the list shape: items, total, page, page_size."""
    start = (query.page - 1) * query.page_size
    return {
        "items": [out(item) for item in items[start : start + query.page_size]],
        "total": items.count(),
        "page": query.page,
        "page_size": query.page_size,
    }


def error_response(request, exc: ApplicationError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


# what pydantic appends to the place of an error in one member of a union ("constrained-str",
# "int", "list[str]"): the field is the place, whichever type it failed to be
UNION_MEMBER = re.compile(r"(constrained-)?(str|int|float|bool|(list|dict|function-\w+)\[.*\])")


def _loc(error: dict) -> str:
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "payload")]
    if len(parts) > 1 and UNION_MEMBER.fullmatch(parts[-1]):
        parts.pop()
    return ".".join(parts) or "body"


@api.exception_handler(ApplicationError)
def _application_error(request, exc: ApplicationError):
    return error_response(request, exc)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        messages = fields.setdefault(_loc(error), [])
        if (message := error.get("msg", "invalid")) not in messages:
            messages.append(message)
    return error_response(request, ValidationFailed(_("The request is not valid."), fields=fields))


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return error_response(request, TooLarge(_("The request body is too large.")))


@api.exception_handler(DataError)
def _data_error(request, exc):
    # bad input the database refuses (a NUL character on PostgreSQL, a number out of range)
    return error_response(
        request, ValidationFailed(_("The request holds a value that cannot be stored."))
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(request, Unauthorized(_("A valid bearer token is required.")))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, NotFound(_("Not found.")))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    if str(exc).startswith("Cannot parse request body"):
        return error_response(
            request, ApplicationError(_("The body is not valid JSON."), code="malformed_json")
        )
    error = ApplicationError(str(exc), code="http_error")
    error.status = exc.status_code
    return error_response(request, error)


def _register_routers() -> None:
    from leadloop.activities.api import router as activities
    from leadloop.campaigns.api import router as campaigns
    from leadloop.contacts.api import router as contacts
    from leadloop.core.api import router as core
    from leadloop.intake.api import router as intake
    from leadloop.intake.import_api import router as imports
    from leadloop.pipeline.api import router as pipeline
    from leadloop.reports.api import router as reports
    from leadloop.routing.api import router as routing

    for router in (
        core,
        pipeline,
        activities,
        routing,
        campaigns,
        intake,
        imports,
        reports,
        contacts,
    ):
        api.add_router("/", router)


_register_routers()
