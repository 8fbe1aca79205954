import time
import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadloop.contacts.normalize import (
    Phone,
    fold,
    normalize_email,
    normalize_name,
    normalize_phone,
    quality_issues,
)

# ---------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "raw",
    [
        # the written forms listed in REFERENCE.md
        "0912 345 678",
        "0912.345.678",
        "+84 912 345 678",
        "84912345678",
        "0084912345678",
        "(+84) 912-345-678",
        "912345678",
        # and their cousins
        "0912345678",
        "0912-345-678",
        "(091) 234 5678",
        "+84912345678",
        "+84 0912 345 678",
        "+84 (0) 912 345 678",
        "0084 912 345 678",
        "  0912 345 678 \n",
        "\t+84-912-345-678",
        "[+84] 912.345.678",
        "０９１２３４５６７８",
        "＋８４ ９１２ ３４５ ６７８",
        "０９１２－３４５－６７８",
    ],
)
def test_written_forms_of_a_mobile(raw):
    phone = normalize_phone(raw)
    assert phone == Phone(raw.strip(), "+84912345678", True, "0912345678")


OLD_TO_NEW = [
    # Viettel
    ("0162", "032"),
    ("0163", "033"),
    ("0164", "034"),
    ("0165", "035"),
    ("0166", "036"),
    ("0167", "037"),
    ("0168", "038"),
    ("0169", "039"),
    # VinaPhone
    ("0123", "083"),
    ("0124", "084"),
    ("0125", "085"),
    ("0127", "081"),
    ("0129", "082"),
    # MobiFone
    ("0120", "070"),
    ("0121", "079"),
    ("0122", "077"),
    ("0126", "076"),
    ("0128", "078"),
    # Vietnamobile
    ("0186", "056"),
    ("0188", "058"),
    # Gmobile
    ("0199", "059"),
]
OLD_WRITTEN_FORMS = [
    "{old}{rest}",  # 01623456789
    "+84{old1}{rest}",  # +841623456789
    "84{old1}{rest}",  # 841623456789
    "0084{old1}{rest}",  # 00841623456789
    "{old1}{rest}",  # 1623456789 (Excel dropped the 0)
    "{old} {rest_spaced}",  # 0162 345 6789
    "+84 {old1} {rest_spaced}",
    "(+84) {old1}-{rest_dashed}",
]


def test_the_2018_table_has_21_pairs():
    assert len(OLD_TO_NEW) == len(dict(OLD_TO_NEW)) == 21


@pytest.mark.parametrize("form", OLD_WRITTEN_FORMS)
@pytest.mark.parametrize(("old", "new"), OLD_TO_NEW)
def test_pre_2018_mobiles_are_converted_in_every_written_form(old, new, form):
    rest = "3456789"
    raw = form.format(
        old=old,
        old1=old[1:],
        rest=rest,
        rest_spaced="345 6789",
        rest_dashed="345-6789",
    )
    phone = normalize_phone(raw)
    assert phone.e164 == "+84" + new[1:] + rest
    assert phone.national == new + rest
    assert phone.valid


def test_full_width_old_mobile_is_converted():
    assert normalize_phone("０１６２３４５６７８９").e164 == "+84323456789"


@pytest.mark.parametrize("new", sorted({new for _, new in OLD_TO_NEW}))
def test_post_2018_numbers_are_left_alone(new):
    assert normalize_phone(new + "3456789").national == new + "3456789"


ALLOCATED_MOBILE_PREFIXES = [
    prefix
    for carrier_prefixes in [
        "032 033 034 035 036 037 038 039 086 096 097 098",  # Viettel
        "081 082 083 084 085 088 091 094",  # VinaPhone
        "070 076 077 078 079 089 090 093",  # MobiFone
        "052 056 058 092",  # Vietnamobile
        "059 099",  # Gmobile
        "087",  # iTel
        "055",  # Wintel
    ]
    for prefix in carrier_prefixes.split()
]


@pytest.mark.parametrize("prefix", ALLOCATED_MOBILE_PREFIXES)
def test_every_allocated_mobile_prefix_is_valid(prefix):
    number = prefix + "1234567"
    assert normalize_phone(number) == Phone(number, "+84" + number[1:], True, number)


@pytest.mark.parametrize("number", ["0521234567", "0551234567", "0891234567", "0992345678"])
def test_prefixes_phonenumbers_misses_are_still_valid(number):
    e164 = "+84" + number[1:]
    assert not phonenumbers.is_valid_number(phonenumbers.parse(e164))  # why we check ourselves
    assert normalize_phone(number) == Phone(number, e164, True, number)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("02438253737", "+842438253737"),  # Hà Nội
        ("024 3825 3737", "+842438253737"),
        ("(024) 3825-3737", "+842438253737"),
        ("024.3825.3737", "+842438253737"),
        ("+84 24 3825 3737", "+842438253737"),
        ("84 24 3825 3737", "+842438253737"),
        ("0084 24 3825 3737", "+842438253737"),
        ("2438253737", "+842438253737"),  # Excel dropped the 0
        ("028 3823 4567", "+842838234567"),  # TP.HCM
        ("028 1234 5678", "+842812345678"),  # phonenumbers rejects this one
        ("0236 3822 222", "+842363822222"),  # Đà Nẵng
        ("０２８３８２３４５６７", "+842838234567"),
    ],
)
def test_landlines_are_valid(raw, e164):
    phone = normalize_phone(raw)
    assert phone == Phone(raw, e164, True, "0" + e164[3:])


@pytest.mark.parametrize(
    ("raw", "e164", "national"),
    [
        ("+1 650 253 0000", "+16502530000", "6502530000"),
        ("+1 (650) 253-0000", "+16502530000", "6502530000"),
        ("001 650 253 0000", "+16502530000", "6502530000"),
        ("+44 20 7031 3000", "+442070313000", "2070313000"),
        ("+33 1 42 68 53 00", "+33142685300", "142685300"),
        ("+65 6221 1234", "+6562211234", "62211234"),
        ("+49 30 1234567", "+49301234567", "301234567"),
        ("＋１ ６５０ ２５３ ００００", "+16502530000", "6502530000"),
    ],
)
def test_foreign_numbers_with_an_explicit_country_code(raw, e164, national):
    assert normalize_phone(raw) == Phone(raw, e164, True, national)


def test_other_default_region():
    assert normalize_phone("(650) 253-0000", region="US").e164 == "+16502530000"
    assert normalize_phone("06 12 34 56 78", region="FR").e164 == "+33612345678"


@pytest.mark.parametrize("raw", ["+84 162 345 6789", "0084 162 345 6789", "011 84 162 345 6789"])
def test_vietnamese_numbers_are_recognised_whatever_the_region(raw):
    phone = normalize_phone(raw, region="US")
    assert (phone.e164, phone.valid, phone.national) == ("+84323456789", True, "0323456789")


@pytest.mark.parametrize(
    ("raw", "region"),
    [("+1 123", "VN"), ("+43 000 000", "VN"), ("123", "US"), ("650 253 0000", "ZZ")],
)
def test_invalid_foreign_numbers_get_no_e164(raw, region):
    assert normalize_phone(raw, region=region) == Phone(raw, "", False, "")


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "abc", "x" * 10_000, "+", "++++", "+84", "0", "00", "0000000000", "+000"],
)
def test_nothing_parseable(raw):
    phone = normalize_phone(raw)
    assert phone == Phone((raw or "").strip(), "", False, "")


@pytest.mark.parametrize(
    "raw",
    [
        "123",
        "091234567",  # one digit short
        "09123456789",  # one digit long
        "0112345678",  # unallocated prefix
        "0012345",
        "+1 123",
        "+84 123",
        "0912345678 / 0987654321",  # two numbers in one cell
    ],
)
def test_invalid_numbers(raw):
    phone = normalize_phone(raw)
    assert phone.raw == raw
    assert not phone.valid


def test_absurdly_long_input_is_rejected_quickly():
    started = time.perf_counter()
    for raw in ["9" * 1_000_000, "０" * 1_000_000, "+84" + "1" * 21, "1" * 19]:
        assert normalize_phone(raw).e164 == ""
    assert time.perf_counter() - started < 2


def test_raw_is_the_stripped_input():
    assert normalize_phone("  0912.345.678\t").raw == "0912.345.678"


def test_phone_is_frozen():
    phone = normalize_phone("0912345678")
    with pytest.raises(AttributeError):
        phone.valid = False  # type: ignore[misc]


@pytest.mark.parametrize(
    "raw", ["0912345678", "01623456789", "02438253737", "+1 650 253 0000", "123", "+84 0 0912"]
)
def test_normalize_phone_is_idempotent_on_examples(raw):
    phone = normalize_phone(raw)
    again = normalize_phone(phone.e164)
    assert (again.e164, again.valid, again.national) == (phone.e164, phone.valid, phone.national)


# ---------------------------------------------------------------- e-mails


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Foo.Bar@Example.COM", "foo.bar@example.com"),
        ("  lan.nguyen@gmail.com\n", "lan.nguyen@gmail.com"),
        ("nguyen.van+crm@gmail.com", "nguyen.van+crm@gmail.com"),
        ("a_b-c@sub.domain.com.vn", "a_b-c@sub.domain.com.vn"),
        ("x@y.io", "x@y.io"),
        ("o'brien@my-company.co.uk", "o'brien@my-company.co.uk"),
    ],
)
def test_valid_emails(raw, expected):
    assert normalize_email(raw) == (expected, True)


@pytest.mark.parametrize(
    "raw",
    [
        "foo",
        "foo@bar",
        "foo@@bar.com",
        "foo bar@x.com",
        "foo@x .com",
        "@x.com",
        "foo@",
        "foo@.com",
        "foo@x..com",
        "foo@-x.com",
        "foo@x-.com",
        ".foo@x.com",
        "foo.@x.com",
        "fo..o@x.com",
        "foo@x.c",
        "foo@x.123",
        "a" * 65 + "@x.com",
        "a" * 64 + "@" + "b" * 190 + ".com",  # 259 characters
        "nguyễn@gmail.com",
    ],
)
def test_invalid_emails(raw):
    assert normalize_email(raw) == (raw.strip().lower(), False)


@pytest.mark.parametrize("raw", [None, "", "   \t\n"])
def test_empty_email(raw):
    assert normalize_email(raw) == ("", False)


# ---------------------------------------------------------------- names and folding


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Nguyễn   Văn\tĐạt \n", "Nguyễn Văn Đạt"),
        ("Trần\nThị\r\nHồng", "Trần Thị Hồng"),
        ("Lê\u00a0Văn\u3000Tám", "Lê Văn Tám"),
        (unicodedata.normalize("NFD", "Phạm Thị Ngọc"), "Phạm Thị Ngọc"),
        ("Anna", "Anna"),
        ("", ""),
        (" \t\n", ""),
        (None, ""),
    ],
)
def test_normalize_name(raw, expected):
    name = normalize_name(raw)
    assert name == expected
    assert unicodedata.is_normalized("NFC", name)


TONE_MARKED_VOWELS = [
    ("aàáảãạ ăằắẳẵặ âầấẩẫậ", "a"),
    ("eèéẻẽẹ êềếểễệ", "e"),
    ("iìíỉĩị", "i"),
    ("oòóỏõọ ôồốổỗộ ơờớởỡợ", "o"),
    ("uùúủũụ ưừứửữự", "u"),
    ("yỳýỷỹỵ", "y"),
]


@pytest.mark.parametrize(("letters", "base"), TONE_MARKED_VOWELS)
@pytest.mark.parametrize("case", [str.lower, str.upper])
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_fold_removes_every_vietnamese_tone_mark(letters, base, case, form):
    text = unicodedata.normalize(form, case(letters))
    assert fold(text) == " ".join(base * len(word) for word in letters.split())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn Đạt", "nguyen van dat"),
        ("đ", "d"),
        ("Đ", "d"),
        ("ĐẶNG  Thị\tHỒNG", "dang thi hong"),
        (" Phạm\nNgọc  Ánh ", "pham ngoc anh"),
        ("Trương Quỳnh Như", "truong quynh nhu"),
        ("José Müller", "jose muller"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold(raw, expected):
    assert fold(raw) == expected


# ---------------------------------------------------------------- quality issues

GOOD_PHONE = normalize_phone("0912345678")
BAD_PHONE = normalize_phone("123")
NO_PHONE = normalize_phone("")


@pytest.mark.parametrize(
    ("name", "phone", "email", "email_valid", "expected"),
    [
        ("Lan", GOOD_PHONE, "lan@x.vn", True, []),
        ("Lan", GOOD_PHONE, "", False, []),
        ("", GOOD_PHONE, "", False, ["name_missing"]),
        ("   ", GOOD_PHONE, "", False, ["name_missing"]),
        ("Lan 2", GOOD_PHONE, "", False, ["name_has_digits"]),
        ("Lan", None, "", False, ["phone_missing"]),
        ("Lan", NO_PHONE, "", False, ["phone_missing"]),
        ("Lan", BAD_PHONE, "", False, ["phone_invalid"]),
        ("Lan", GOOD_PHONE, "lan@", False, ["email_invalid"]),
        ("", None, "lan@", False, ["name_missing", "phone_missing", "email_invalid"]),
        (
            "0912345678",
            BAD_PHONE,
            "x",
            False,
            ["name_has_digits", "phone_invalid", "email_invalid"],
        ),
    ],
)
def test_quality_issues(name, phone, email, email_valid, expected):
    issues = quality_issues(name=name, phone=phone, email=email, email_valid=email_valid)
    assert issues == expected


# ---------------------------------------------------------------- properties

PHONEISH = st.text(alphabet="0123456789+()-. ０１２８９＋", max_size=30)
ANY_TEXT = st.text() | PHONEISH


@settings(deadline=None, max_examples=300)
@given(ANY_TEXT)
def test_normalize_phone_never_raises_and_is_idempotent(raw):
    phone = normalize_phone(raw)
    assert not phone.valid or phone.e164
    if phone.e164:
        again = normalize_phone(phone.e164)
        assert (again.e164, again.valid, again.national) == (
            phone.e164,
            phone.valid,
            phone.national,
        )


@settings(deadline=None)
@given(
    prefix=st.sampled_from(ALLOCATED_MOBILE_PREFIXES),
    rest=st.from_regex(r"\A[0-9]{7}\Z"),
    form=st.sampled_from(
        ["0{p}{r}", "+84{p}{r}", "84{p}{r}", "0084{p}{r}", "{p}{r}", "(+84) {p}-{r}"]
    ),
)
def test_every_allocated_mobile_in_every_form_is_valid(prefix, rest, form):
    phone = normalize_phone(form.format(p=prefix[1:], r=rest))
    assert (phone.e164, phone.valid) == ("+84" + prefix[1:] + rest, True)


@settings(deadline=None)
@given(st.text())
def test_normalize_email_never_raises_and_is_idempotent(raw):
    email, valid = normalize_email(raw)
    assert normalize_email(email) == (email, valid)


@settings(deadline=None)
@given(st.text())
def test_normalize_name_never_raises_and_is_idempotent(raw):
    name = normalize_name(raw)
    assert normalize_name(name) == name


@settings(deadline=None)
@given(st.text())
def test_fold_never_raises_and_is_idempotent(raw):
    key = fold(raw)
    assert fold(key) == key
    assert fold(normalize_name(raw)) == key
