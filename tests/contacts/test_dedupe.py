"""Contact de-duplication, through the capture service."""

import pytest

from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.core.access import Actor
from leadloop.intake.services import Submission, lead_capture


def resolve(workspace, name="", phone="", email=""):
    """Capture one submission; returns its stored contact and whether that contact is new."""
    before = Contact.objects.filter(workspace=workspace).count()
    captured = lead_capture(
        workspace=workspace,
        actor=Actor.system(workspace),
        submission=Submission(full_name=name, phone=phone, email=email),
    )
    created = Contact.objects.filter(workspace=workspace).count() > before
    return Contact.objects.get(pk=captured.lead.contact_id), created


@pytest.fixture
def ws(team):
    return team.workspace


@pytest.mark.parametrize(
    "written",
    [
        "0912 345 678",
        "+84912345678",
        "84 912 345 678",
        "0084-912-345-678",
        "(+84) 912.345.678",
        "０９１２３４５６７８",
    ],
)
def test_every_written_form_of_a_phone_is_one_contact(ws, written):
    first, created = resolve(ws, "An", "0912345678")
    assert created
    same, created = resolve(ws, "", written)
    assert (same.pk, created) == (first.pk, False)


def test_old_eleven_digit_mobile_matches_its_new_number(ws):
    modern, _ = resolve(ws, "An", "0387654321")
    old, created = resolve(ws, "", "0168 765 4321")
    assert (old.pk, created) == (modern.pk, False)


def test_email_matches_case_insensitively_and_trimmed(ws):
    first, _ = resolve(ws, email="An.Nguyen@Example.com")
    assert first.email == "an.nguyen@example.com"
    same, created = resolve(ws, email="  AN.NGUYEN@example.COM ")
    assert (same.pk, created) == (first.pk, False)


def test_phone_wins_over_email_and_the_pair_is_flagged_once(ws):
    a, _ = resolve(ws, "A", phone="0912345678")
    b, _ = resolve(ws, "B", email="b@example.com")
    found, created = resolve(ws, "", phone="0912345678", email="b@example.com")
    assert (found.pk, created) == (a.pk, False)
    pair = PossibleDuplicate.objects.get()
    assert (pair.contact_id, pair.other_id, pair.reason) == (a.pk, b.pk, "phone_email_split")
    resolve(ws, "", phone="+84912345678", email="B@example.com")
    assert PossibleDuplicate.objects.count() == 1
    a.refresh_from_db()
    assert a.email == ""  # B keeps its address; A does not take it over


def test_gaps_are_filled_but_nothing_is_overwritten(ws):
    first, _ = resolve(ws, "", phone="0912345678")
    resolve(ws, "Nguyễn Văn An", phone="0912345678", email="an@example.com")
    first.refresh_from_db()
    assert (first.full_name, first.email, first.email_valid) == (
        "Nguyễn Văn An",
        "an@example.com",
        True,
    )
    resolve(ws, "Tên Khác", phone="0912345678", email="other@example.com")
    first.refresh_from_db()
    assert (first.full_name, first.email) == ("Nguyễn Văn An", "an@example.com")
    # an e-mail-only contact gets the phone it lacked
    second, _ = resolve(ws, "Bình", email="binh@example.com")
    resolve(ws, "", phone="0987654321", email="binh@example.com")
    second.refresh_from_db()
    assert (second.phone_e164, second.phone_valid) == ("+84987654321", True)
    # and is then found by it
    assert resolve(ws, phone="0987 654 321")[0].pk == second.pk


def test_filled_gaps_update_the_search_key(ws):
    first, _ = resolve(ws, "", email="an@example.com")
    resolve(ws, "Nguyễn Văn An", phone="0912345678", email="an@example.com")
    first.refresh_from_db()
    assert "nguyen van an" in first.search_key
    assert "0912345678" in first.search_key


def test_invalid_phones_and_emails_are_not_identities(ws):
    a, _ = resolve(ws, "A", phone="12345")
    b, created = resolve(ws, "B", phone="12345")
    assert created and a.pk != b.pk
    c, _ = resolve(ws, "C", email="not-an-email")
    d, created = resolve(ws, "D", email="not-an-email")
    assert created and c.pk != d.pk


def test_contacts_are_per_workspace(team, other_team):
    ours, _ = resolve(team.workspace, "A", "0912345678", "a@example.com")
    theirs, created = resolve(other_team.workspace, "A", "0912345678", "a@example.com")
    assert created and ours.pk != theirs.pk
    assert Contact.objects.filter(phone_e164="+84912345678").count() == 2


def test_search_key_is_folded_name_national_phone_and_email(ws):
    contact, _ = resolve(ws, "  Đặng   Thị Hồng ", "+84 912 345 678", "Hong@Example.com")
    assert contact.full_name == "Đặng Thị Hồng"
    assert contact.search_key == "dang thi hong 0912345678 hong@example.com"
