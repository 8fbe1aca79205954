"""The fuzzy duplicate finder: each rule's hits and near misses, blocking, the queue's decisions."""

from io import StringIO

import pytest
from django.core.management import call_command

from leadloop.contacts.duplicates import PLACEHOLDER_FROM
from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.contacts.services import duplicate_dismiss, duplicates_find
from leadloop.contacts.tasks import find_duplicates
from tests.core.support import capture


def person(team, name="", phone="", email="") -> Contact:
    lead = capture(team, full_name=name, phone=phone, email=email).lead
    return Contact.objects.get(pk=lead.contact_id)


def found(team, contact) -> dict:
    """{other contact id: (reason, score)} of the pairs the finder makes for `contact`."""
    duplicates_find(workspace=team.workspace, contacts=[contact])
    pairs = PossibleDuplicate.objects.filter(workspace=team.workspace)
    return {
        (p.other_id if p.contact_id == contact.pk else p.contact_id): (p.reason, p.score)
        for p in pairs
        if contact.pk in (p.contact_id, p.other_id)
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("0912345678", "0912345679"),  # last digit
        ("0912345678", "0982345678"),  # a digit of the head
        ("0912345678", "0912345687"),  # two neighbours swapped
        ("0912345678", "+84 912 305 678"),  # another written form, one digit off
    ],
)
def test_similar_name_and_a_phone_one_digit_off_is_a_candidate(team, first, second):
    a = person(team, "Nguyễn Văn An", first)
    b = person(team, "nguyen van an", second)
    reason, score = found(team, b)[a.pk]
    assert reason == "phone_typo"
    assert 80 <= score <= 100


def test_word_order_and_accents_do_not_matter(team):
    a = person(team, "Trần Thị Thu Hà", "0912345678")
    b = person(team, "Ha Tran Thi Thu", "0912345670")
    assert found(team, b)[a.pk][0] == "phone_typo"


@pytest.mark.parametrize(
    ("name_a", "phone_a", "name_b", "phone_b"),
    [
        ("Nguyễn Văn An", "0912345678", "Nguyễn Văn An", "0912345600"),  # two digits off
        ("Nguyễn Văn An", "0912345678", "Nguyễn Văn An", "0912345786"),  # a rotation, not a swap
        ("Nguyễn Văn An", "0912345678", "Lê Thị Bích Ngọc", "0912345679"),  # other person
        ("Nguyễn Văn An", "0912345678", "", "0912345679"),  # no name to compare
        ("Nguyễn Văn An", "0912345678", "Nguyễn Văn An", "02412345678"),  # landline
        ("Nguyễn Thị Ngân", "0912345678", "Nguyễn Thị Linh", "0912345679"),  # other given name
        ("Lê Văn Nam", "0912345678", "Lê Văn Lâm", "0912345679"),  # one letter, another name
        ("Nguyễn Văn An", "0912345678", "Nguyễn Văn Anh", "0912345679"),  # An is not Anh
        ("Nguyễn Thị Ngân", "0912345678", "Linh Nguyễn Thị", "0912345679"),  # a middle name
    ],
)
def test_near_misses_of_the_phone_rule(team, name_a, phone_a, name_b, phone_b):
    person(team, name_a, phone_a)
    b = person(team, name_b, phone_b)
    assert found(team, b) == {}


def test_the_same_invalid_phone_is_a_candidate_whatever_the_names(team):
    a = person(team, "Phạm Minh", "0111 222 333")
    b = person(team, "Khách", "0111.222.333")  # invalid numbers never merge at capture
    assert a.pk != b.pk
    reason, score = found(team, b)[a.pk]
    assert reason == "same_phone" and score < 100
    c = person(team, "", "0111222333")
    assert found(team, c)[a.pk] == ("same_phone", 100)


def test_the_same_invalid_phone_of_another_given_name_scores_lower(team):
    a = person(team, "Nguyễn Thị Ngân", "0111 222 333")
    b = person(team, "Nguyễn Thị Linh", "0111 222 333")
    c = person(team, "Ngân Nguyễn Thị", "0111 222 333")  # first and last name reversed
    assert found(team, b)[a.pk] == ("same_phone", 70)
    assert found(team, c)[a.pk] == ("same_phone", 100)


@pytest.mark.parametrize("junk", ["0123", "09", "123456", "0900abc427"])
def test_a_number_too_short_to_be_real_pairs_only_alike_names(team, junk):
    a = person(team, "Nguyễn Thị Ngân", junk)
    b = person(team, "Nguyễn Thị Linh", junk)
    c = person(team, "nguyen thi ngan", junk)
    assert a.pk not in found(team, b)
    assert found(team, c)[a.pk] == ("same_phone", 90)


def test_an_invalid_number_many_contacts_wrote_pairs_only_alike_names(team):
    """ "12345" from a thousand rows of a sheet would otherwise make half a million pairs."""
    names = ["Phạm Minh", "Lê Thị Hoa", "Trần Văn Bình", "Đỗ Thu Trang", "", "", "Pham Minh"]
    people = [person(team, name, "12345") for name in names]
    assert len({p.pk for p in people}) == len(names) > PLACEHOLDER_FROM
    duplicates_find(workspace=team.workspace, contacts=people)
    pairs = PossibleDuplicate.objects.filter(workspace=team.workspace)
    assert [(p.contact_id, p.other_id, p.reason) for p in pairs] == [
        (people[0].pk, people[-1].pk, "same_phone")
    ]


def test_same_email_local_part_at_another_domain(team):
    a = person(team, "Vũ Hoàng Long", email="long.vu88@gmail.com")
    b = person(team, "Vu Hoang Long", email="long.vu88@yahoo.com")
    c = person(team, "", email="long.vu88@outlook.com")
    assert found(team, b)[a.pk][0] == "email_local"
    assert found(team, c)[a.pk] == ("email_local", 70)


@pytest.mark.parametrize(
    ("email_a", "name_b", "email_b"),
    [
        ("info@shop-a.vn", "Vũ Hoàng Long", "info@shop-b.vn"),  # a generic mailbox
        ("long.vu88@gmail.com", "Đỗ Thị Mai", "long.vu88@yahoo.com"),  # other person
        ("lv@gmail.com", "Vũ Hoàng Long", "lv@yahoo.com"),  # too short to tell
        ("long.vu88@gmail.com", "Vũ Hoàng Long", "long.vu89@gmail.com"),  # another local part
    ],
)
def test_near_misses_of_the_email_rule(team, email_a, name_b, email_b):
    person(team, "Vũ Hoàng Long", email=email_a)
    b = person(team, name_b, email=email_b)
    assert found(team, b) == {}


def test_only_blocked_candidates_are_read(team, django_assert_num_queries):
    for n in range(30):  # unrelated contacts: no shared head, tail or local part
        person(team, "Nguyễn Văn An", f"09{n % 9 + 1}{n:03d}{n:04d}"[:10])
    subject = person(team, "Nguyễn Văn An", "0388888888")
    with django_assert_num_queries(1):  # the block, and nothing else when it is empty
        assert duplicates_find(workspace=team.workspace, contacts=[subject]) == 0


def test_a_dismissed_pair_never_comes_back(team):
    a = person(team, "Nguyễn Văn An", "0912345678")
    b = person(team, "Nguyễn Văn An", "0912345679")
    assert found(team, b)
    pair = PossibleDuplicate.objects.get()
    duplicate_dismiss(workspace=team.workspace, actor=team.actors["manager"], pair_id=pair.pk)
    assert duplicates_find(workspace=team.workspace, contacts=[a, b]) == 0
    out = StringIO()
    call_command("duplicates", "scan", "--workspace", "acme", stdout=out)
    assert out.getvalue().strip() == "new_pairs=0"
    assert PossibleDuplicate.objects.get().status == "dismissed"


def test_scan_command_finds_every_pair_once(team):
    person(team, "Nguyễn Văn An", "0912345678")
    person(team, "Nguyen Van An", "0912345679")
    person(team, "Vũ Hoàng Long", email="long.vu88@gmail.com")
    person(team, "Vu Hoang Long", email="long.vu88@yahoo.com")
    person(team, "Đỗ Thị Mai", "0987654321")
    out = StringIO()
    call_command("duplicates", "scan", "--workspace", "acme", stdout=out)
    assert out.getvalue().strip() == "new_pairs=2"
    assert sorted(PossibleDuplicate.objects.values_list("reason", flat=True)) == [
        "email_local",
        "phone_typo",
    ]


def test_scan_of_an_unknown_workspace_fails_clearly(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown workspace"):
        call_command("duplicates", "scan", "--workspace", "nope")


def test_capture_queues_the_finder_for_new_contacts_after_commit(
    team, worker, django_capture_on_commit_callbacks
):
    person(team, "Nguyễn Văn An", "0912345678")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        b = person(team, "Nguyen Van An", "0912345679")
    assert not PossibleDuplicate.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    pair = PossibleDuplicate.objects.get()
    assert b.pk in (pair.contact_id, pair.other_id) and pair.reason == "phone_typo"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        person(team, "Nguyen Van An", "0912345679")  # joins: no new contact, nothing queued
    assert not [done for done in callbacks if getattr(done, "func", None) is find_duplicates]
