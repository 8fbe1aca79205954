"""Pure normalisers for contact fields (Vietnamese phones, e-mails, names) and quality checks."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass

import phonenumbers

MAX_PHONE_DIGITS = 20
MAX_E164_DIGITS = 15
MAX_EMAIL_LENGTH = 254

# 2018 conversion of the eleven-digit mobiles; national digits, trunk 0 omitted.
PRE_2018_MOBILE_PREFIXES = {
    **{f"16{d}": f"3{d}" for d in "23456789"},  # Viettel 0162-0169 -> 032-039
    **{"123": "83", "124": "84", "125": "85", "127": "81", "129": "82"},  # VinaPhone
    **{"120": "70", "121": "79", "122": "77", "126": "76", "128": "78"},  # MobiFone
    **{"186": "56", "188": "58"},  # Vietnamobile
    "199": "59",  # Gmobile
}

# Mobile prefixes (the two digits after the trunk 0) by original allocation.
MOBILE_PREFIXES_BY_CARRIER = {
    "Viettel": "32 33 34 35 36 37 38 39 86 96 97 98",
    "VinaPhone": "81 82 83 84 85 88 91 94",
    "MobiFone": "70 76 77 78 79 89 90 93",
    "Vietnamobile": "52 56 58 92",
    "Gmobile": "59 99",
    "iTel": "87",
    "Wintel": "55",
}
MOBILE_PREFIXES = frozenset(" ".join(MOBILE_PREFIXES_BY_CARRIER.values()).split())

EMAIL_RE = re.compile(
    r"(?!\.)(?!.*\.\.)[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}(?<!\.)"
    r"@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}"
)
STARTS_WITH_PLUS_RE = re.compile(r"[\s(\[]*\+")
NOT_ASCII_DIGIT_RE = re.compile(r"[^0-9]")


@dataclass(frozen=True)
class Phone:
    raw: str  # the input, stripped
    e164: str  # '+84912345678'; '' when unparseable or an invalid foreign number
    valid: bool
    national: str  # '0912345678' for VN, national significant number for foreign, else ''


def normalize_phone(raw: str | None, region: str = "VN") -> Phone:
    """Parse any written form of a phone number; never raises, never rejects."""
    raw = (raw or "").strip()
    text = unicodedata.normalize("NFKC", raw)
    digits = NOT_ASCII_DIGIT_RE.sub("", text)
    if not 0 < len(digits) <= MAX_PHONE_DIGITS:
        return Phone(raw, "", False, "")
    international = bool(STARTS_WITH_PLUS_RE.match(text)) or digits.startswith("00")
    if international:
        digits = digits.lstrip("0")
    if digits.startswith("84") and (international or len(digits) >= 11):
        return _vietnamese(raw, digits[2:])
    if region == "VN" and not international:
        return _vietnamese(raw, digits)
    return _foreign(raw, "+" + digits if international else digits, region)


def _vietnamese(raw: str, national: str) -> Phone:
    national = _modernise(national.lstrip("0"))
    if not national or len("84" + national) > MAX_E164_DIGITS:
        return Phone(raw, "", False, "")
    e164 = "+84" + national
    valid = _is_allocated_vn_number(national) or _is_valid_for_phonenumbers(e164)
    return Phone(raw, e164, valid, "0" + national)


def _modernise(national: str) -> str:
    """Rewrite a pre-2018 eleven-digit mobile (10 national digits) to its ten-digit form."""
    new_prefix = PRE_2018_MOBILE_PREFIXES.get(national[:3])
    if len(national) == 10 and new_prefix:
        return new_prefix + national[3:]
    return national


def _is_allocated_vn_number(national: str) -> bool:
    if len(national) == 9:
        return national[:2] in MOBILE_PREFIXES
    return len(national) == 10 and national.startswith("2")


def _is_valid_for_phonenumbers(e164: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


def _foreign(raw: str, number: str, region: str) -> Phone:
    """Leave other countries to phonenumbers; only a valid number gets an E.164 form."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return Phone(raw, "", False, "")
    national = phonenumbers.national_significant_number(parsed)
    if parsed.country_code == 84:
        return _vietnamese(raw, national)
    if not phonenumbers.is_valid_number(parsed):
        return Phone(raw, "", False, "")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Phone(raw, e164, True, national)


def normalize_email(raw: str | None) -> tuple[str, bool]:
    """Return the stripped, lower-cased address and whether its syntax is plausible."""
    email = (raw or "").strip().lower()
    valid = len(email) <= MAX_EMAIL_LENGTH and EMAIL_RE.fullmatch(email) is not None
    return email, valid


def normalize_name(raw: str | None) -> str:
    """NFC-normalise, trim and collapse internal whitespace to single spaces."""
    return " ".join(unicodedata.normalize("NFC", raw or "").split())


@functools.cache
def _strip_marks() -> dict[int, None]:
    """str.translate table deleting every combining mark (built once, on first use)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


def fold(text: str | None) -> str:
    """Accent-folded lower-case key for matching: 'Nguyễn Văn Đạt' -> 'nguyen van dat'."""
    decomposed = unicodedata.normalize("NFD", (text or "").lower())
    bare = decomposed.translate(_strip_marks())
    return " ".join(bare.replace("đ", "d").split())


def quality_issues(*, name: str, phone: Phone | None, email: str, email_valid: bool) -> list[str]:
    """Codes of the data-quality problems of one contact, in a fixed order."""
    checks = [
        ("name_missing", not name.strip()),
        ("name_has_digits", any(ch.isdigit() for ch in name)),
        ("phone_missing", phone is None or not phone.raw),
        ("phone_invalid", phone is not None and bool(phone.raw) and not phone.valid),
        ("email_invalid", bool(email) and not email_valid),
    ]
    return [code for code, failed in checks if failed]
