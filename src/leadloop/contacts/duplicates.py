"""Rules of the fuzzy duplicate finder: which two contacts may be one person, why, how likely.

Pure functions over loaded contacts; `contacts.services.duplicates_find` loads the blocks (the
contacts sharing a phone head, a phone tail or an e-mail local part) and stores the pairs.
"""

from collections import Counter
from dataclasses import dataclass

from rapidfuzz import fuzz

from leadloop.contacts.models import Contact
from leadloop.contacts.normalize import fold

NAME_MIN = 80  # token_sort_ratio of the folded names from which two names are "the same"
MIN_LOCAL = 3
GENERIC_LOCALS = frozenset(
    {"admin", "contact", "email", "hello", "hotro", "info", "kinhdoanh", "lienhe", "mail"}
    | {"office", "sales", "support", "test"}
)
BLOCK_FIELDS = ("phone_head", "phone_tail", "email_local")
# An invalid number written by more contacts than this is a placeholder ("12345", "0000000"),
# not a person: sharing it alone pairs no one, or 1,000 such rows would make 500,000 pairs.
PLACEHOLDER_FROM = 6
# Fewer digits than any real number ("0123", "123456"): sharing one says as little.
REAL_NUMBER_DIGITS = 8
SHORT_GIVEN = 4  # letters up to which a given name must match exactly ("An", "Anh", "Linh")


@dataclass(frozen=True)
class Candidate:
    reason: str  # same_phone, phone_typo, email_local
    score: int  # 0-100


def name_score(a: str, b: str) -> float | None:
    """Similarity of two accent-folded names in word order-free form; None when one is blank.
    Halved when the given names differ: the family and middle names ("Nguyễn Thị") are shared
    by millions, so "Nguyễn Thị Ngân" and "Nguyễn Thị Linh" are two people."""
    first, second = fold(a), fold(b)
    if not first or not second:
        return None
    score = fuzz.token_sort_ratio(first, second)
    return score if _given_names_alike(first.split(), second.split()) else score / 2


def _given_names_alike(first: list[str], second: list[str]) -> bool:
    """Whether one name's given name (its last word) is, give or take a typo, the other's
    first or last word (a name built from "first" and "last" names may come reversed). A
    short given name must be the same ("An" is not "Anh")."""
    return any(
        _same_given(mine[-1], word)
        for mine, theirs in ((first, second), (second, first))
        for word in {theirs[0], theirs[-1]}
    )


def _same_given(a: str, b: str) -> bool:
    if min(len(a), len(b)) <= SHORT_GIVEN:
        return a == b
    return fuzz.ratio(a, b) >= NAME_MIN


def _too_short(e164: str) -> bool:
    return len(e164.removeprefix("+84")) < REAL_NUMBER_DIGITS


def phone_distance(a: str, b: str) -> str | None:
    """`same`, `typo` (one digit different, or two neighbours swapped) or None (further)."""
    if not a or not b or len(a) != len(b):
        return None
    diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if not diffs:
        return "same"
    if len(diffs) == 1:
        return "typo"
    swapped = len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]]
    return "typo" if swapped and a[diffs[1]] == b[diffs[0]] else None


def _local_is_telling(local: str) -> bool:
    return len(local) >= MIN_LOCAL and local not in GENERIC_LOCALS


def judge(a: Contact, b: Contact, placeholder: bool = False) -> Candidate | None:
    """The strongest rule two contacts meet, or None. With `placeholder`, the phone they
    share says nothing by itself: the names must be alike too."""
    names = name_score(a.full_name, b.full_name)
    placeholder = placeholder or _too_short(a.phone_e164)
    found = []
    distance = phone_distance(a.phone_e164, b.phone_e164)
    if distance == "same" and not placeholder:  # possible only when a number is not valid
        found.append(Candidate("same_phone", 100 if names is None else round((100 + names) / 2)))
    elif distance == "same" and names is not None and names >= NAME_MIN:
        found.append(Candidate("same_phone", round(names * 0.9)))
    elif distance == "typo" and names is not None and names >= NAME_MIN:
        found.append(Candidate("phone_typo", round(names * 0.9)))
    same_local = a.email_local and a.email_local == b.email_local and a.email != b.email
    if same_local and _local_is_telling(a.email_local):
        if names is None:
            found.append(Candidate("email_local", 70))
        elif names >= NAME_MIN:
            found.append(Candidate("email_local", round(names * 0.95)))
    return max(found, key=lambda c: c.score, default=None)


def pairs_in_blocks(subjects: list[Contact], block: list[Contact]) -> dict:
    """{(low id, high id): Candidate} for each subject against the block contacts sharing a key."""
    by_key: dict[tuple[str, str], list[Contact]] = {}
    for contact in block:
        for name in BLOCK_FIELDS:
            if value := getattr(contact, name):
                by_key.setdefault((name, value), []).append(contact)
    sharing = Counter(contact.phone_e164 for contact in block if contact.phone_e164)
    found: dict[tuple[int, int], Candidate] = {}
    for subject in subjects:
        seen = {subject.pk}
        placeholder = sharing[subject.phone_e164] >= PLACEHOLDER_FROM
        for name in BLOCK_FIELDS:
            value = getattr(subject, name)
            for other in by_key.get((name, value), []) if value else []:
                if other.pk in seen:
                    continue
                seen.add(other.pk)
                if candidate := judge(subject, other, placeholder):
                    pair = (min(subject.pk, other.pk), max(subject.pk, other.pk))
                    if pair not in found or found[pair].score < candidate.score:
                        found[pair] = candidate
    return found
