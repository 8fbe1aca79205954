"""The ad platforms' webhook formats: who sent a delivery, the leads in it, their answers.

Pure functions over bytes and parsed JSON (and, for Facebook, the Graph API). The formats and the
choices made where the providers' documentation is silent are in docs/integrations.md.
"""

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from leadloop.core.errors import ApplicationError, Forbidden, ValidationFailed
from leadloop.intake.forms_intake import flatten
from leadloop.intake.models import Channel
from leadloop.intake.services import Submission

MAX_BODY = 1024 * 1024  # a Facebook batch of 1,000 changes is about 200 kB
MAX_ID = 60  # a Zalo key joins two ids: within Touch.external_id (128)
GRAPH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
GRAPH_PAGE_SIZE = 100
GRAPH_FIELDS = "id,created_time,field_data,form_id,ad_id,adgroup_id,campaign_id,is_organic"
NAMES = ("full_name", "name")
PHONES = ("phone_number", "phone", "work_phone")
EMAILS = ("email", "work_email")


@dataclass
class Item:
    """One lead announced by a delivery (or read back from the Graph API)."""

    ref: str = ""  # the provider's lead id: the idempotency key
    answers: dict | None = None  # None: to be fetched from the Graph API (Facebook)
    context: dict = field(default_factory=dict)  # the provider's ids, kept in the lead's fields
    campaign: str = ""
    is_test: bool = False
    form_id: str = ""
    error: str = ""  # why this lead cannot be taken (the others still are)


class BadItem(Exception):
    pass


class GraphError(Exception):
    """The Graph API failed. `passing`: worth trying again (an outage, a timeout, a limit
    reached, an expired token an admin can renew); else final (a deleted lead, no permission)
    until an admin replays it."""

    def __init__(self, message: str, *, passing: bool = True):
        super().__init__(message)
        self.passing = passing


# Graph error codes that pass: unknown and service errors (1, 2), an expired or invalid token
# (190), rate and usage limits (4, 17, 32, 613); an error may also say it is transient
GRAPH_PASSING_CODES = {1, 2, 4, 17, 32, 190, 613}


def parse_json(body: bytes) -> dict:
    """A JSON object from a request body; large ids stay exact (Python ints, never floats)."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except ValueError:  # UnicodeDecodeError is a ValueError
        raise ApplicationError(_("The body is not valid JSON."), code="malformed_json") from None
    except RecursionError:
        message = _("The JSON is nested too deeply.")
        raise ApplicationError(message, code="malformed_json") from None
    if not isinstance(data, dict):
        raise ApplicationError(_("Send a JSON object."), code="malformed_json")
    return data


def _no_constant(name: str):
    raise ValueError(name)  # NaN and Infinity are not JSON


def _text_id(value, name: str) -> str:
    """An id sent as a number or a string, as text; anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= MAX_ID and "\x00" not in value:
        return value.strip()
    raise BadItem(_("%(name)s is missing or not an id.") % {"name": name})


def _optional_id(value, name: str) -> str:
    return "" if value is None or value == "" else _text_id(value, name)


def _list_of_objects(data: dict, name: str) -> list[dict]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        message = _("A list of objects is expected.")
        problem = _("%(name)s is not valid.") % {"name": name}
        raise ValidationFailed(problem, fields={name: [message]})
    return value


def _sha256(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same_text(expected: str, given: str) -> bool:
    """Constant-time comparison of two texts (bytes, so any character is safe to compare)."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def _refuse() -> Forbidden:
    return Forbidden(_("The signature is missing or wrong."), code="bad_signature")


def submission_of(item: Item, source: str) -> Submission:
    """The capture engine's Submission for a lead's answers: name, phone and e-mail to the
    contact; every other answer and the provider's ids to the lead's fields."""
    answers = flatten(item.answers or {})

    def take(names: tuple[str, ...]) -> str:
        for name in names:
            if answers.get(name, "").strip():
                return answers.pop(name).strip()
        return ""

    parts = (answers.pop("first_name", "").strip(), answers.pop("last_name", "").strip())
    name = take(NAMES) or " ".join(part for part in parts if part)
    phone, email = take(PHONES), take(EMAILS)
    context = {key: value for key, value in item.context.items() if value}
    return Submission(
        full_name=name[:200],
        phone=phone[:64],
        email=email[:254],
        source=source,
        campaign=item.campaign[:200],
        external_id=item.ref,
        is_test=item.is_test,
        fields={**answers, **context},
    )


JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a string as JSON writes it, escapes and all


class Provider:
    kind = ""
    fetches = False  # the leads' answers come from the provider's API, not the delivery
    body_secrets: tuple[str, ...] = ()  # keys of the body whose values are the channel's secret

    def shown(self, body: bytes) -> str:
        """The raw body as an admin may see it: the channel's secret hidden, however the
        sender escaped it."""
        text = body.decode("utf-8", errors="replace")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return text
        found = {data.get(key) for key in self.body_secrets} if isinstance(data, dict) else set()
        secrets = {secret for secret in found if isinstance(secret, str) and secret}
        if not secrets:
            return text

        def hidden(string: re.Match) -> str:
            return '"•••"' if json.loads(string.group()) in secrets else string.group()

        return JSON_STRING.sub(hidden, text)

    def accept(self, channel: Channel, headers, body: bytes) -> dict:
        """The delivery's JSON when it comes from the provider (Forbidden otherwise)."""
        raise NotImplementedError

    def read(self, data: dict) -> list[Item]:
        """The leads in a delivery; a malformed envelope is a ValidationFailed."""
        raise NotImplementedError


class Facebook(Provider):
    """Lead Ads: `leadgen` changes signed with X-Hub-Signature-256; answers from the Graph API."""

    kind = "facebook"
    fetches = True

    def accept(self, channel, headers, body):
        given = headers.get("X-Hub-Signature-256", "")
        secret = channel.settings.get("app_secret", "")
        if not (given.startswith("sha256=") and secret):
            raise _refuse()
        if not same_text(_sha256(secret, body), given.removeprefix("sha256=")):
            raise _refuse()
        return parse_json(body)

    def read(self, data):
        if data.get("object") != "page":
            return []
        items = []
        for entry in _list_of_objects(data, "entry"):
            for change in _list_of_objects(entry, "changes"):
                if change.get("field") == "leadgen":
                    items.append(self._item(change.get("value")))
        return items

    def _item(self, value) -> Item:
        if not isinstance(value, dict):
            return Item(error=_("The change has no value object."))
        try:
            ref = _text_id(value.get("leadgen_id"), "leadgen_id")
            keys = ("form_id", "ad_id", "adgroup_id", "page_id")
            ids = {k: _optional_id(value.get(k), k) for k in keys}
            _digits_only({"leadgen_id": ref, **ids})
        except BadItem as exc:
            return Item(ref=str(value.get("leadgen_id", ""))[:MAX_ID], error=str(exc))
        return self.item_of(ref, ids, answers=None)

    @staticmethod
    def item_of(ref: str, ids: dict, answers: dict | None) -> Item:
        form = ids.get("form_id", "")
        return Item(
            ref=ref,
            answers=answers,
            context={f"facebook_{key}": value for key, value in ids.items()},
            campaign=f"Facebook form {form}" if form else "",
            form_id=form,
        )


def _digits_only(ids: dict[str, str]) -> None:
    """Facebook's ids are digits; any other text would change the Graph API address asked
    (`../me`, `?access_token=…`)."""
    for name, value in ids.items():
        if value and not (value.isascii() and value.isdigit()):
            raise BadItem(_("%(name)s is not a Facebook id (digits only).") % {"name": name})


def _answers(lead: dict) -> dict:
    """field_data [{name, values}] as {name: values}."""
    data = lead.get("field_data")
    if not isinstance(data, list):
        raise GraphError(_("The Graph API answered without field_data."))
    return {
        f["name"]: f.get("values") or []
        for f in data
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    }


_clients: dict[int, httpx.Client] = {}


def graph_client() -> httpx.Client:
    """One client per process (thread-safe, keeps connections; building one costs an SSL
    context, milliseconds of CPU per delivery otherwise)."""
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = httpx.Client(timeout=GRAPH_TIMEOUT)
    return _clients[pid]


def _graph_get(client: httpx.Client, url: str, params: dict | None = None) -> dict:
    try:
        response = client.get(url, params=params, timeout=GRAPH_TIMEOUT)
    except httpx.HTTPError as exc:
        raise GraphError(_("The Graph API did not answer (%s).") % type(exc).__name__) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200:
        raise GraphError(
            _("The Graph API answered %(status)s: %(body)s")
            % {"status": response.status_code, "body": response.text[:200]},
            passing=_passing(response.status_code, data),
        )
    if not isinstance(data, dict):
        raise GraphError(_("The Graph API answered something that is not a JSON object."))
    return data


def _passing(status: int, data) -> bool:
    """Whether a Graph API refusal may pass: a server error, too many requests, or an error
    code that tells so (Graph answers most errors with a 400 and an `error.code`)."""
    if status >= 500 or status == 429:
        return True
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return False
    return error.get("is_transient") is True or error.get("code") in GRAPH_PASSING_CODES


def graph_lead(client: httpx.Client, channel: Channel, item: Item) -> Item:
    """The item with its answers, read from GET /{leadgen_id} with the page access token."""
    url = f"{settings.LEADLOOP_FACEBOOK_GRAPH_URL}/{item.ref}"
    token = channel.settings.get("page_access_token", "")
    lead = _graph_get(client, url, {"access_token": token, "fields": GRAPH_FIELDS})
    item.answers = _answers(lead)
    return item


def graph_form_leads(
    client: httpx.Client, channel: Channel, form_id: str, since: int | None
) -> Iterator[list[Item]]:
    """The form's leads, page by page, from GET /{form_id}/leads (created after `since`)."""
    base = settings.LEADLOOP_FACEBOOK_GRAPH_URL
    params = {
        "access_token": channel.settings.get("page_access_token", ""),
        "fields": GRAPH_FIELDS,
        "limit": GRAPH_PAGE_SIZE,
    }
    if since is not None:
        params["filtering"] = json.dumps(
            [{"field": "time_created", "operator": "GREATER_THAN", "value": since}]
        )
    url: str | None = f"{base}/{form_id}/leads"
    while url:
        page = _graph_get(client, url, params)
        leads = page.get("data")
        if not isinstance(leads, list):
            raise GraphError(_("The Graph API answered a page without data."))
        yield [_form_lead(lead, form_id) for lead in leads]
        paging = page.get("paging")
        url = paging.get("next") if isinstance(paging, dict) else None
        if url and urlsplit(url)[:2] != urlsplit(base)[:2]:
            raise GraphError(_("The Graph API sent a next page on another server."))
        params = None  # the next page's address carries them


def _form_lead(lead, form_id: str) -> Item:
    if not isinstance(lead, dict):
        return Item(error=_("The lead is not an object."))
    try:
        ref = _text_id(lead.get("id"), "id")
        ids = {k: _optional_id(lead.get(k), k) for k in ("ad_id", "adgroup_id")}
        answers = _answers(lead)
    except (BadItem, GraphError) as exc:
        return Item(ref=str(lead.get("id", ""))[:MAX_ID], error=str(exc))
    return Facebook.item_of(ref, {"form_id": form_id, **ids}, answers=answers)


class Google(Provider):
    """Google Ads lead forms: one lead per delivery, authenticated by google_key in the body."""

    kind = "google"
    body_secrets = ("google_key",)

    def accept(self, channel, headers, body):
        data = parse_json(body)
        key = data.get("google_key")
        if not isinstance(key, str) or not same_text(channel.settings.get("google_key", ""), key):
            raise Forbidden(_("The google_key is missing or wrong."), code="bad_signature")
        return data

    def read(self, data):
        columns = _list_of_objects(data, "user_column_data")
        try:
            ref = _text_id(data.get("lead_id"), "lead_id")
            ids = {
                k: _optional_id(data.get(k), k)
                for k in ("campaign_id", "form_id", "adgroup_id", "creative_id")
            }
        except BadItem as exc:
            raise ValidationFailed(str(exc)) from None
        gclid = data.get("gcl_id")
        campaign = ids["campaign_id"]
        return [
            Item(
                ref=ref,
                answers={
                    str(c["column_id"]).lower(): c.get("string_value", "")
                    for c in columns
                    if c.get("column_id")
                },
                context={**{f"google_{k}": v for k, v in ids.items()}, "gclid": gclid or ""},
                campaign=f"Google campaign {campaign}" if campaign else "",
                is_test=data.get("is_test") is True,
                form_id=ids["form_id"],
            )
        ]


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escaped(char: re.Match) -> str:
    units = char.group().encode("utf-16-be")
    codes = (int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2))
    return "".join(f"\\u{code:04x}" for code in codes)


def _ascii_escaped(body: bytes) -> bytes:
    """The body with every non-ASCII character written \\uXXXX, as some TikTok signers hash it."""
    try:
        return _NON_ASCII.sub(_escaped, body.decode()).encode()
    except UnicodeDecodeError:
        return body


class TikTok(Provider):
    """TikTok lead generation: answers inside, X-Open-Signature = HMAC-SHA256 of the body."""

    kind = "tiktok"

    def accept(self, channel, headers, body):
        secret = channel.settings.get("app_secret", "")
        given = headers.get("X-Open-Signature", "")
        if not (secret and given):
            raise _refuse()
        if not (
            same_text(_sha256(secret, body), given)
            or same_text(_sha256(secret, _ascii_escaped(body)), given)
        ):
            raise _refuse()
        return parse_json(body)

    def read(self, data):
        if str(data.get("object", 1)) != "1":  # other notifications share the callback URL
            return []
        return [self._item(entry) for entry in _list_of_objects(data, "entry")]

    def _item(self, entry: dict) -> Item:
        try:
            ref = _text_id(entry.get("lead_id", entry.get("id")), "lead_id")
            keys = ("page_id", "advertiser_id", "campaign_id", "adgroup_id", "ad_id")
            ids = {k: _optional_id(entry.get(k), k) for k in keys}
            changes = entry.get("changes", [])
            if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
                raise BadItem(_("changes is not a list of objects."))
        except BadItem as exc:
            return Item(ref=str(entry.get("lead_id", entry.get("id", "")))[:MAX_ID], error=str(exc))
        form = ids.pop("page_id")
        return Item(
            ref=ref,
            answers={str(c["field"]): c.get("value", "") for c in changes if c.get("field")},
            context={"tiktok_form_id": form, **{f"tiktok_{k}": v for k, v in ids.items()}},
            campaign=f"TikTok form {form}" if form else "",
            form_id=form,
        )


class Zalo(Provider):
    """Zalo OA events; `user_submit_info` is a lead. X-ZEvent-Signature: mac=sha256(app_id +
    body + timestamp + OA secret key), a plain hash, not an HMAC."""

    kind = "zalo"

    def accept(self, channel, headers, body):
        data = parse_json(body)
        app_id = channel.settings.get("app_id", "")
        secret = channel.settings.get("oa_secret_key", "")
        timestamp = data.get("timestamp")
        given = headers.get("X-ZEvent-Signature", "")
        if not (app_id and secret and given.startswith("mac=")) or isinstance(timestamp, bool):
            raise _refuse()
        signed = app_id.encode() + body + str(timestamp).encode() + secret.encode()
        if not same_text(hashlib.sha256(signed).hexdigest(), given.removeprefix("mac=")):
            raise _refuse()
        return data

    def read(self, data):
        if data.get("event_name") != "user_submit_info":
            return []  # stored and acknowledged, no lead
        info, sender = data.get("info"), data.get("sender")
        if not isinstance(info, dict) or not isinstance(sender, dict):
            raise ValidationFailed(_("user_submit_info needs the objects info and sender."))
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        try:
            user = _text_id(sender.get("id"), "sender.id")
            ref = (
                _text_id(message["msg_id"], "msg_id")
                if message.get("msg_id")
                else f"{user}:{_text_id(data.get('timestamp'), 'timestamp')}"
            )
        except BadItem as exc:
            raise ValidationFailed(str(exc)) from None
        return [Item(ref=ref, answers=info, context={"zalo_user_id": user})]


PROVIDERS: dict[str, Provider] = {p.kind: p for p in (Facebook(), Google(), TikTok(), Zalo())}
