"""Map a website form's fields (any common naming, Vietnamese or English) to a Submission."""

import codecs
import unicodedata
from urllib.parse import parse_qsl, unquote_to_bytes, urlsplit

from leadloop.intake.services import UTM_FIELDS, Submission

ALIASES = {
    "full_name": ("full_name", "name", "fullname", "ho_ten", "hoten", "ho_va_ten", "your-name"),
    "phone": ("phone", "phone_number", "tel", "mobile", "sdt", "so_dien_thoai", "dien_thoai"),
    "email": ("email", "e-mail", "mail", "your-email"),
    "campaign": ("campaign", "chien_dich"),
    "note": ("note", "message", "ghi_chu", "noi_dung", "your-message"),
}
HONEYPOTS = ("website", "_gotcha")
CONSENT = "consent"
IGNORED = ("csrfmiddlewaretoken", CONSENT, *HONEYPOTS)
YES = {"1", "true", "yes", "on", "y", "có", "co"}
MAX_FIELDS = 50
MAX_VALUE = 2000
LEGACY_ENCODING = "cp1258"  # Windows-1258: what older Vietnamese pages post their forms in


def is_spam(data: dict) -> bool:
    return any(str(data.get(name, "")).strip() for name in HONEYPOTS)


def flatten(data) -> dict[str, str]:
    """A QueryDict or a JSON object as {name: text}; lists are joined, sizes are capped."""
    items = data.lists() if hasattr(data, "lists") else data.items()
    flat = {}
    for name, value in list(items)[: MAX_FIELDS + len(IGNORED)]:
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
        # NUL cannot be stored (PostgreSQL text and jsonb refuse it): drop it
        flat[str(name).replace("\x00", "")[:100]] = text.replace("\x00", "")[:MAX_VALUE]
    return flat


def urlencoded_fields(body: bytes, declared: str | None, max_fields: int) -> dict[str, list]:
    """An urlencoded form body as {name: [values]}. A form on an older Vietnamese page posts in
    the page's encoding, named in the request or (as browsers do) not: the text charset it names,
    else each field as UTF-8 when it reads as UTF-8, else as Windows-1258. Raises ValueError past
    `max_fields` fields. A byte-order mark before the first field is dropped."""
    body = body.removeprefix(codecs.BOM_UTF8)
    pairs = [part.split(b"=", 1) for part in body.split(b"&") if part]
    if len(pairs) > max_fields:
        raise ValueError(f"more than {max_fields} fields")
    encoding = text_encoding(declared)
    fields: dict[str, list] = {}
    for pair in pairs:
        name, value = (_text(piece, encoding) for piece in (*pair, b"")[:2])
        fields.setdefault(name, []).append(value)
    return fields


def _text(piece: bytes, encoding: str | None) -> str:
    """Composed, as typed: Windows-1258 keeps tones as combining marks after the letter."""
    raw = unquote_to_bytes(piece.replace(b"+", b" "))
    if encoding is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode(LEGACY_ENCODING, errors="replace")
    else:
        text = raw.decode(encoding, errors="replace")
    return unicodedata.normalize("NFC", text)


def text_encoding(charset: str | None) -> str | None:
    """The charset's codec if it decodes bytes into text, replacing what it cannot read (not
    base64 or rot13, nor idna, which refuses to replace), else None."""
    if not charset:
        return None
    try:
        name = codecs.lookup(charset).name
        b"a\xff".decode(name, errors="replace")
    except (LookupError, UnicodeError):
        return None
    return name


def consent_given(data: dict[str, str]) -> bool:
    return data.get(CONSENT, "").strip().lower() in YES


def utm_from_page(page_url: str) -> dict[str, str]:
    """UTM parameters of the page the form was sent from (a form posted without JavaScript)."""
    try:
        query = dict(parse_qsl(urlsplit(page_url).query))
    except ValueError:  # not a URL (e.g. "http://[::1"): no UTMs from it
        return {}
    return {k: query[k][:200] for k in UTM_FIELDS if query.get(k)}


def submission_from_form(data: dict[str, str], *, default_source: str) -> Submission:
    taken, picked = set(), {}
    for target, names in ALIASES.items():
        for name in names:
            if data.get(name, "").strip():
                picked[target] = data[name].strip()
                taken.add(name)
                break
    utm = {k: data.get(k, "")[:200] for k in UTM_FIELDS}
    rest = {k: v for k, v in data.items() if k not in taken and k not in IGNORED and k not in utm}
    return Submission(
        full_name=picked.get("full_name", "")[:200],
        phone=picked.get("phone", "")[:64],
        email=picked.get("email", "")[:254],
        source=data.get("source", "")[:100] or default_source,
        campaign=(picked.get("campaign") or utm["utm_campaign"])[:200],
        note=picked.get("note", ""),
        fields=dict(list(rest.items())[:MAX_FIELDS]),
        utm=utm,
    )
