"""The demo workspace: about 2,000 Vietnamese leads over the last 90 days, made by the services.

Every write goes through the public services (`workspace_create`, `member_create`,
`campaign_create`, `lead_capture`, `activity_log`, `lead_change_stage`, `lead_assign`), each at its
historical moment (`clock.travel`), so the data is exactly what the product would have recorded:
de-duplication, round robin, timelines, notifications and the funnel's furthest stage included.

The story is an English centre ("Công ty Demo") selling courses through Facebook lead ads, Google
Ads and its website, with a telesales team working the leads by the K-codes. A fixed seed makes the
run reproducible (the dates are relative to today).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time as wallclock
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.db.models import F

from leadloop.activities.models import Kind
from leadloop.activities.services import activity_log
from leadloop.campaigns.models import Campaign
from leadloop.campaigns.services import campaign_create, key_of
from leadloop.contacts.normalize import fold
from leadloop.contacts.services import duplicates_scan
from leadloop.core import clock
from leadloop.core.access import Actor
from leadloop.core.models import Member, Role, Workspace
from leadloop.core.services import member_create, workspace_create
from leadloop.intake.models import Channel, Touch
from leadloop.intake.services import Submission, channel_create, lead_capture
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.services import lead_assign, policy_update
from leadloop.routing.sla import BATCH as TIMER_BATCH
from leadloop.routing.sla import timers_fire_due

DEFAULT_SLUG = "demo"
WORKSPACE_NAME = "Công ty Demo"
DEMO_PASSWORD = "demo-leadloop-2026"  # documented in README and printed by `leadloop demo`
DEFAULT_LEADS = 2000
DAYS = 90
SEED = 2026
TYPO_SEED = 1122  # the mistyped resubmissions have their own draws
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TIMER_TICK = timedelta(hours=1)


# ------------------------------------------------------------------ the team


@dataclass(frozen=True)
class Staff:
    login: str  # the local part of the e-mail
    full_name: str
    role: str
    team: str | None
    win: float = 1.0  # how well the rep closes, relative to the team
    first_call_min: float = 30  # median minutes from assignment to the first call
    neglects: float = 0.0  # share of leads the rep never calls


STAFF = (
    Staff("admin", "Nguyễn Minh Quân", Role.ADMIN, None),
    Staff("manager", "Trần Thị Thu Hà", Role.MANAGER, "Sales"),
    Staff("marketer", "Lê Hoàng Nam", Role.MARKETER, "Marketing"),
    Staff("sales1", "Phạm Thị Lan Anh", Role.SALES, "Sales", 1.45, 10, 0.01),
    Staff("sales2", "Vũ Đức Thắng", Role.SALES, "Sales", 1.15, 25, 0.02),
    Staff("sales3", "Đặng Ngọc Mai", Role.SALES, "Sales", 1.0, 45, 0.03),
    Staff("sales4", "Bùi Quốc Huy", Role.SALES, "Sales", 0.8, 100, 0.06),
    Staff("sales5", "Hoàng Thị Thảo", Role.SALES, "Sales", 0.6, 200, 0.10),
)


def demo_email(slug: str, login: str) -> str:
    return f"{login}@{slug}.leadloop.vn"


@dataclass(frozen=True)
class Login:
    email: str
    role: str
    full_name: str
    password: str = DEMO_PASSWORD


def demo_logins(workspace: Workspace) -> list[Login]:
    """The demo members of the workspace, in the order of STAFF (missing ones left out)."""
    emails = [demo_email(workspace.slug, s.login) for s in STAFF]
    members = {
        m.user.email: m
        for m in Member.objects.filter(workspace=workspace, user__email__in=emails).select_related(
            "user"
        )
    }
    return [Login(e, members[e].role, members[e].full_name) for e in emails if e in members]


# ------------------------------------------------------------------ Vietnamese people


def _weights(text: str) -> dict[str, float]:
    """'Nguyễn 38; Trần 11' -> {'Nguyễn': 38.0, 'Trần': 11.0}: compact weighted vocabularies."""
    pairs = (item.strip().rsplit(" ", 1) for item in text.split(";") if item.strip())
    return {name: float(weight) for name, weight in pairs}


FAMILY = _weights(  # by frequency in the population
    "Nguyễn 38; Trần 11; Lê 9.5; Phạm 7; Hoàng 3; Huỳnh 2.1; Phan 4.5; Vũ 2.4; Võ 1.5; Đặng 2.1;"
    "Bùi 2; Đỗ 1.4; Hồ 1.3; Ngô 1.3; Dương 1; Lý 0.5"
)
MIDDLE = {
    "m": [
        "Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành", "Hoàng", "Ngọc", "Xuân", "Gia",
        "Trung", "Anh", "Tuấn", "Đình",
    ],
    "f": [
        "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Phương", "Bảo", "Khánh",
        "Mai", "Diệu", "Thùy", "Kim",
    ],
}  # fmt: skip
GIVEN = {
    "m": [
        "An", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy",
        "Khánh", "Khoa", "Kiên", "Long", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quang", "Quân",
        "Sơn", "Tài", "Thắng", "Thành", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Duy",
    ],
    "f": [
        "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương", "Huyền",
        "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương",
        "Quỳnh", "Thảo", "Thủy", "Trang", "Trinh", "Uyên", "Vân", "Yến", "Nhi", "Tâm",
    ],
}  # fmt: skip
CARRIERS = {  # original allocations (REFERENCE.md), by rough market share
    "32 33 34 35 36 37 38 39 86 96 97 98": 50,  # Viettel
    "81 82 83 84 85 88 91 94": 22,  # VinaPhone
    "70 76 77 78 79 89 90 93": 22,  # MobiFone
    "52 56 58 92": 6,  # Vietnamobile
}
OLD_PREFIX = {  # the 2018 conversion: new two-digit prefix -> old three-digit one
    **{f"3{d}": f"16{d}" for d in "23456789"},  # Viettel
    "83": "123", "84": "124", "85": "125", "81": "127", "82": "129",  # VinaPhone
    "70": "120", "79": "121", "77": "122", "76": "126", "78": "128",  # MobiFone
    "56": "186", "58": "188",  # Vietnamobile
}  # fmt: skip
PHONE_FORMS = _weights(  # written forms seen in the wild, by how often they arrive
    "0912 345 678 28; 0912345678 30; 0912.345.678 9; +84 912 345 678 8; 84912345678 6;"
    "912345678 5; 01623456789 7; 0912-345-678 3; (+84) 912-345-678 2; 0084912345678 2"
)
EMAIL_DOMAINS = _weights(
    "gmail.com 76; yahoo.com 9; outlook.com 4; hotmail.com 4; icloud.com 4; fpt.vn 1.5; vnn.vn 1.5"
)
CITIES = {
    "Hà Nội": [
        "Cầu Giấy", "Đống Đa", "Ba Đình", "Hoàn Kiếm", "Hai Bà Trưng", "Thanh Xuân", "Hoàng Mai",
        "Long Biên", "Tây Hồ", "Nam Từ Liêm", "Bắc Từ Liêm", "Hà Đông",
    ],
    "TP.HCM": [
        "Quận 1", "Quận 3", "Quận 7", "Quận 10", "Bình Thạnh", "Phú Nhuận", "Tân Bình", "Gò Vấp",
        "Thủ Đức", "Bình Tân",
    ],
}  # fmt: skip
PRODUCTS = _weights(
    "IELTS 6.5+ 30; Tiếng Anh giao tiếp 25; Tiếng Anh trẻ em 25; TOEIC 650+ 10; Luyện thi vào 10 10"
)
FEES = {  # VND, what a course costs
    "IELTS 6.5+": 12_500_000, "Tiếng Anh giao tiếp": 6_900_000, "Tiếng Anh trẻ em": 8_400_000,
    "TOEIC 650+": 5_500_000, "Luyện thi vào 10": 7_200_000,
}  # fmt: skip
BUDGETS = _weights("dưới 5 triệu 20; 5–10 triệu 35; 10–20 triệu 25; trên 20 triệu 8; chưa rõ 12")
MESSAGES = [  # what people type in the website form's message box (often nothing)
    "Cho mình xin học phí khóa {p} ạ", "Tư vấn giúp em lịch học buổi tối",
    "Bé nhà mình 8 tuổi, có lớp cuối tuần không ạ?", "Mình muốn đăng ký học thử",
    "Có ưu đãi cho 2 người không?", "Gọi sau 18h giúp mình nhé", "Học online được không ạ?", "",
    "",
]  # fmt: skip
BAD_NAMES = [  # names of test and junk submissions
    "test", "Test", "asdf", "aaa", "abc", ".", "x", "không", "Lan 0912", "Hoa123", "Nguyễn Văn A1",
    "test 01", "anh 1", "0987",
]  # fmt: skip


def _pick(rng: random.Random, weighted: dict):
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


@dataclass(frozen=True)
class Person:
    family: str
    middle: str
    given: str
    gender: str
    national: str  # nine national digits, e.g. 912345678
    email: str
    city: str
    district: str

    @property
    def full_name(self) -> str:
        return f"{self.family} {self.middle} {self.given}"


def _email(rng: random.Random, family: str, middle: str, given: str) -> str:
    f, m, g = (fold(x).replace(" ", "") for x in (family, middle, given))
    local = rng.choice([f + m + g, g + f, f + g, f"{g}.{f}", f"{g}{m}{f}", f"{f}.{m}{g}"])
    year, short = rng.randint(1975, 2008), rng.randint(1, 99)
    suffix = rng.choice(["", "", str(year), str(year)[2:], str(short), ".hn", f"_{short % 10}"])
    return f"{local}{suffix}@{_pick(rng, EMAIL_DOMAINS)}"


def person_make(rng: random.Random, email_share: float = 0.35, near: str = "") -> Person:
    gender = "f" if rng.random() < 0.58 else "m"  # parents booking for children are mostly mothers
    family = _pick(rng, FAMILY)
    middle, given = rng.choice(MIDDLE[gender]), rng.choice(GIVEN[gender])
    prefixes = _pick(rng, CARRIERS).split()
    national = rng.choice(prefixes) + f"{rng.randrange(10_000_000):07d}"
    email = _email(rng, family, middle, given) if rng.random() < email_share else ""
    if near and rng.random() < 0.5:
        city, district = "Hà Nội", near
    else:
        city = "Hà Nội" if rng.random() < 0.65 else "TP.HCM"
        district = rng.choice(CITIES[city])
    return Person(family, middle, given, gender, national, email, city, district)


def phone_written(rng: random.Random, national: str, form: str | None = None) -> str:
    """One written form of a valid Vietnamese mobile (nine national digits)."""
    n = national
    form = form or _pick(rng, PHONE_FORMS)
    if form == "01623456789":
        old = OLD_PREFIX.get(n[:2])
        return f"0{old}{n[2:]}" if old else f"0{n}"
    return {
        "0912 345 678": f"0{n[:3]} {n[3:6]} {n[6:]}",
        "0912345678": f"0{n}",
        "0912.345.678": f"0{n[:3]}.{n[3:6]}.{n[6:]}",
        "+84 912 345 678": f"+84 {n[:3]} {n[3:6]} {n[6:]}",
        "84912345678": f"84{n}",
        "912345678": n,
        "0912-345-678": f"0{n[:3]}-{n[3:6]}-{n[6:]}",
        "(+84) 912-345-678": f"(+84) {n[:3]}-{n[3:6]}-{n[6:]}",
        "0084912345678": f"0084{n}",
    }[form]


def phone_wrong(rng: random.Random, national: str) -> str:
    """A number that cannot be right: a digit short or long, an unallocated prefix, junk."""
    kind = rng.randrange(6)
    if kind == 0:
        return f"0{national[:8]}"  # a digit missing
    if kind == 1:
        return f"0{national}{rng.randrange(10)}"  # one too many
    if kind == 2:
        return (
            f"0{rng.choice(['11', '14', '15', '17', '19', '60', '61', '40', '44', '66'])}"
            f"{rng.randrange(10_000_000):07d}"
        )  # no carrier has this prefix
    if kind == 3:
        return rng.choice(["123456", "0000000000", "0123", "1900 1234", "09"])
    if kind == 4:
        return f"0{national[:3]} {national[3:5]}"  # the form cut the number off
    return f"0{national[:3]}abc{national[6:]}"


# ------------------------------------------------------------------ campaigns and arrival times


@dataclass(frozen=True)
class CampaignPlan:
    name: str  # "" = organic (no campaign)
    share: float
    first_day: int  # days ago
    last_day: int  # days ago (0 = today)
    shape: str  # flat | peak | ramp
    sources: dict
    budget: int = 0
    win: float = 1.0  # how well its leads convert
    near: str = ""  # district the ads targeted
    ends_in: int | None = None  # days from today


CAMPAIGNS = (  # name, share of leads, first and last day (days ago), curve, sources, budget, win
    CampaignPlan("Học thử miễn phí", 0.33, 89, 0, "flat",
                 {"facebook": 45, "google": 25, "website": 30}, 45_000_000, 1.25),
    CampaignPlan("Khai trương chi nhánh Cầu Giấy", 0.27, 80, 33, "peak",
                 {"facebook": 60, "google": 25, "website": 15}, 60_000_000, 0.8,
                 near="Cầu Giấy", ends_in=-33),
    CampaignPlan("Black Friday", 0.20, 24, 0, "ramp",
                 {"facebook": 70, "google": 20, "website": 10}, 35_000_000, 1.05, ends_in=5),
    CampaignPlan("Tết 2027", 0.10, 13, 0, "ramp",
                 {"facebook": 65, "google": 20, "website": 15}, 50_000_000, 0.9, ends_in=75),
    CampaignPlan("", 0.10, 89, 0, "flat", {"google": 45, "website": 55}, 0, 1.4),  # organic
)  # fmt: skip
SOURCE_WIN = {"facebook": 0.85, "google": 1.15, "website": 1.3}
SOURCE_BAD = {"facebook": 1.4, "google": 0.8, "website": 0.6}  # mis-clicks come from the feed
WEEKDAY = (1.0, 1.05, 1.0, 1.0, 0.95, 0.75, 0.6)  # Monday .. Sunday
HOURS = (1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 4, 5, 6, 7, 6, 5, 5, 5, 5, 6, 8, 9, 9, 7, 3)


def _shape(plan: CampaignPlan, days_ago: int) -> float:
    if not plan.last_day <= days_ago <= plan.first_day:
        return 0.0
    span = max(plan.first_day - plan.last_day, 1)
    x = (plan.first_day - days_ago) / span  # 0 at the start, 1 at the end
    if plan.shape == "peak":  # up fast, down slowly
        return math.exp(-(((x - 0.3) / (0.18 if x < 0.3 else 0.32)) ** 2)) + 0.05
    if plan.shape == "ramp":
        return 0.15 + x**1.6
    return 1.0


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TZ)


@dataclass
class Planned:
    """One submission to make at `at`."""

    at: datetime
    person: Person
    source: str
    campaign: CampaignPlan
    phone: str
    email: str
    full_name: str
    bad: str = ""  # why the lead will prove bad: phone, name, person
    note: str = ""
    fields: dict = field(default_factory=dict)
    extra_id: int = 0

    def submission(self) -> Submission:
        utm = {}
        if self.source != "website" and self.campaign.name:
            key = fold(self.campaign.name).replace(" ", "-")
            utm = {
                "utm_source": self.source,
                "utm_campaign": key,
                "utm_medium": "paid_social" if self.source == "facebook" else "cpc",
            }
        external = f"{self.extra_id}" if self.source in ("facebook", "google") else ""
        return Submission(
            full_name=self.full_name,
            phone=self.phone,
            email=self.email,
            source=self.source,
            campaign=self.campaign.name,
            external_id=external,
            note=self.note,
            fields=self.fields,
            utm=utm,
        )

    def raw(self) -> dict:
        answers = {
            "full_name": self.full_name,
            "phone_number": self.phone,
            "email": self.email,
            **self.fields,
        }
        if self.source == "facebook":
            return {
                "leadgen_id": str(self.extra_id),
                "form_id": "1029384756",
                "field_data": [{"name": k, "values": [v]} for k, v in answers.items() if v],
            }
        if self.source == "google":
            return {
                "lead_id": str(self.extra_id),
                "is_test": False,
                "user_column_data": [
                    {"column_id": k.upper(), "string_value": v} for k, v in answers.items() if v
                ],
            }
        return {k: v for k, v in {**answers, "message": self.note}.items() if v}


def _name_written(rng: random.Random, person: Person) -> str:
    roll = rng.random()
    if roll < 0.07:  # typed without accents
        return fold(person.full_name).title() if rng.random() < 0.5 else fold(person.full_name)
    if roll < 0.11:
        return f"{'Chị' if person.gender == 'f' else 'Anh'} {person.given}"
    if roll < 0.13:
        return person.full_name.upper()
    if roll < 0.20:
        return f"{person.family} {person.given}"
    return person.full_name


class Planner:
    """Draws the submissions: fresh people, bad data and duplicates, in time order."""

    def __init__(self, rng: random.Random, now: datetime, leads: int):
        self.rng, self.now, self.leads = rng, now, leads
        self.today = now.astimezone(TZ).date()
        self.ids = itertools.count(rng.randrange(10**14, 2 * 10**14))
        slots, weights = [], []
        for plan in CAMPAIGNS:
            total = sum(_shape(plan, d) for d in range(DAYS))
            for days_ago in range(DAYS):
                day = self.today - timedelta(days=days_ago)
                weight = plan.share * _shape(plan, days_ago) / total * WEEKDAY[day.weekday()]
                if weight > 0:
                    slots.append((plan, day))
                    weights.append(weight)
        self.slots, self.weights = slots, weights

    def _slot(self) -> tuple[CampaignPlan, datetime]:
        plan, day = self.rng.choices(self.slots, weights=self.weights)[0]
        hour = self.rng.choices(range(24), weights=HOURS)[0]
        return plan, _day_start(day) + timedelta(hours=hour, seconds=self.rng.randrange(3600))

    def _fields(self, person: Person, source: str) -> dict:
        product = _pick(self.rng, PRODUCTS)
        fields = {"product": product}
        if source != "google" or self.rng.random() < 0.5:
            fields |= {"city": person.city, "district": person.district}
        if source != "facebook" or self.rng.random() < 0.4:
            fields["budget"] = _pick(self.rng, BUDGETS)
        return fields

    def _fresh(self, plan: CampaignPlan, at: datetime) -> Planned:
        rng = self.rng
        source = _pick(rng, plan.sources)
        person = person_make(rng, 0.5 if source == "website" else 0.3, plan.near)
        fields = self._fields(person, source)
        note = rng.choice(MESSAGES).format(p=fields["product"]) if source == "website" else ""
        item = Planned(
            at,
            person,
            source,
            plan,
            phone_written(rng, person.national),
            person.email,
            _name_written(rng, person),
            note=note,
            fields=fields,
            extra_id=next(self.ids),
        )
        roll = rng.random() / SOURCE_BAD[source]
        if roll < 0.04:
            item.phone, item.bad = phone_wrong(rng, person.national), "phone"
        elif roll < 0.06:
            item.full_name, item.bad = rng.choice(BAD_NAMES), "name"
        elif roll < 0.08:
            item.bad = "person"  # a real number, but not the person who filled the form
        if source == "website" and person.email and rng.random() < 0.08:
            item.phone = ""  # e-mail only
        return item

    def _again(self, first: Planned, at: datetime, plan: CampaignPlan, same: bool) -> Planned:
        """The same person submitting again, often in another written form."""
        rng = self.rng
        source = first.source if same else _pick(rng, plan.sources)
        email = first.person.email or ""
        phone = (
            first.phone
            if same and rng.random() < 0.6
            else phone_written(rng, first.person.national)
        )
        if first.bad == "phone":
            phone = first.phone
        if email and rng.random() < 0.15:
            phone = ""  # this time only the e-mail
        return Planned(
            at,
            first.person,
            source,
            first.campaign if same else plan,
            phone,
            email,
            _name_written(rng, first.person),
            fields=self._fields(first.person, source),
            bad=first.bad,
            extra_id=next(self.ids),
        )

    def plan(self) -> list[Planned]:
        """All submissions up to now, in time order.

        The draws do not depend on the time of day: what today has not reached yet is dropped at
        the end, so the same seed on the same day gives the same data.
        """
        rng = self.rng
        fresh = sorted((self._fresh(*self._slot()) for _ in range(self.leads)), key=_at)
        times = [p.at for p in fresh]
        out = list(fresh)
        n_quick, n_cross, n_back = (max(1, round(self.leads * s)) for s in (0.03, 0.05, 0.025))
        for first in rng.sample(fresh, min(n_quick, len(fresh))):  # a double submit
            at = first.at + timedelta(seconds=rng.randint(40, 25 * 60))
            out.append(self._again(first, at, first.campaign, same=True))
        for (near, far), count in (
            ((timedelta(minutes=30), timedelta(days=14)), n_cross),
            ((timedelta(days=21), timedelta(days=80)), n_back),
        ):
            made = 0
            for _try in range(count * 20):
                if made == count:
                    break
                plan, at = self._slot()
                lo, hi = bisect_left(times, at - far), bisect_left(times, at - near)
                if lo < hi:  # the same person again, through another campaign or source
                    out.append(self._again(fresh[rng.randrange(lo, hi)], at, plan, same=False))
                    made += 1
        out += self._typos(fresh)
        cutoff = self.now - timedelta(minutes=2)
        return sorted((p for p in out if p.at < cutoff), key=_at)

    def _typos(self, fresh: list[Planned]) -> list[Planned]:
        """People who sent the form again with a digit of their number mistyped: a second contact
        that the duplicate queue catches. Drawn apart, so the other draws stay as they were."""
        rng = random.Random(TYPO_SEED)
        typos = []
        for first in rng.sample(fresh, min(max(1, round(self.leads * 0.01)), len(fresh))):
            digits = list(first.person.national)
            spot = rng.randrange(2, len(digits))  # the carrier's prefix is typed right
            digits[spot] = str((int(digits[spot]) + rng.randint(1, 9)) % 10)
            at = first.at + timedelta(minutes=rng.randint(3, 90))
            name = _name_written(rng, first.person)
            typos.append(
                Planned(
                    at,
                    first.person,
                    first.source,
                    first.campaign,
                    "0" + "".join(digits),
                    "",
                    name,
                    fields=dict(first.fields),
                    extra_id=next(self.ids),
                )
            )
        return typos


def _at(item: Planned) -> datetime:
    return item.at


# ------------------------------------------------------------------ care scripts

NOTES = {  # what reps write after a call with that outcome
    "no_answer": "Không nghe máy|Thuê bao tạm thời không liên lạc được|Gọi 2 lần không bắt máy",
    "busy_callback": "Khách đang họp, hẹn gọi lại sau 17h|Đang lái xe, gọi lại buổi tối|"
    "Hẹn gọi lại cuối tuần",
    "thinking": "Khách cần bàn thêm với gia đình|Đang so sánh với trung tâm khác|"
    "Muốn cho bé học thử trước|Hỏi thêm về lịch học cuối tuần",
    "consulted": "Đã tư vấn lộ trình, gửi học phí qua Zalo|Đã test trình độ online|"
    "Khách đến cơ sở tham quan, chưa chốt|Đã gửi lịch khai giảng",
    "bought": "Đã chốt khóa {p}, chuyển khoản {fee}đ|Đăng ký {p}, đóng trước 50% học phí|"
    "Chốt {p} theo ưu đãi {c}",
    "wrong_number": "Sai số|Số không tồn tại|Người nghe máy không đăng ký|Bấm nhầm quảng cáo",
    "refused": "Học phí cao so với ngân sách|Đã đăng ký trung tâm khác|Không có nhu cầu nữa|"
    "Nhà xa cơ sở|Con chưa muốn học",
}
NOTES = {outcome: text.split("|") for outcome, text in NOTES.items()}
REASONS = {"wrong_number": NOTES["wrong_number"], "refused": NOTES["refused"]}
DURATION = {  # seconds on the phone, by outcome
    "no_answer": (0, 0), "busy_callback": (5, 30), "wrong_number": (3, 25), "refused": (20, 180),
    "thinking": (60, 420), "consulted": (180, 1200), "bought": (120, 900),
}  # fmt: skip
FATES = {  # how a genuine lead ends up, before the campaign's, source's and rep's effect
    "won": 0.13, "consulted": 0.14, "thinking": 0.11, "refused": 0.30, "unreachable": 0.17,
    "bad": 0.035, "idle": 0.02,
}  # fmt: skip
WORK_START, WORK_END = 8, 20  # the team calls 8:00–20:00, Monday to Saturday
SLA = {  # what the demo team signed
    "business_hours": {str(day): [["08:00", "20:00"]] for day in range(6)},
    "first_contact_minutes": 30,
    "attempt_cadence": ["3h", "next_morning"],
    "journey_days": 60,  # a lead still open after 60 days is closed as "no need"
    "journey_end_stage": "k4-2",
}


def working(rng: random.Random, at: datetime) -> datetime:
    """The same moment if the team is at work, else a moment early in the next working slot."""
    local = at.astimezone(TZ)
    for _day in range(3):
        if local.weekday() == 6 or local.hour >= WORK_END:
            next_day = local.date() + timedelta(days=1)
            local = _day_start(next_day) + timedelta(hours=WORK_START, minutes=rng.randrange(5, 90))
        elif local.hour < WORK_START:
            local = _day_start(local.date()) + timedelta(
                hours=WORK_START, minutes=rng.randrange(5, 90)
            )
        else:
            return local
    return local


@dataclass(frozen=True)
class Step:
    at: datetime
    outcome: str = ""  # a call with this outcome
    reassign: bool = False  # or the manager handing the lead to another rep


class Scripter:
    """How one lead is worked: the calls, notes and hand-overs, as timed steps."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def fate(self, item: Planned, rep: Staff) -> str:
        if item.bad in ("phone", "person") or (item.bad == "name" and self.rng.random() < 0.7):
            return "bad"
        weights = dict(FATES)
        weights["won"] *= item.campaign.win * SOURCE_WIN[item.source] * rep.win
        weights["idle"] = rep.neglects
        return _pick(self.rng, weights)

    def _gap(self, low_h: float, high_h: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low_h, high_h))

    def _retry(self, at: datetime) -> datetime:
        """The next attempt: mostly on the agreed cadence, sometimes a day or two later."""
        gap = self._gap(2, 3) if self.rng.random() < 0.65 else self._gap(16, 40)
        return working(self.rng, at + gap)

    def _misses(self, at: datetime, most: int) -> tuple[list[Step], datetime]:
        steps = []
        for _ in range(self.rng.randint(0, most)):
            steps.append(Step(at, self.rng.choice(["no_answer", "no_answer", "busy_callback"])))
            at = self._retry(at)
        return steps, at

    def script(self, item: Planned, start: datetime, rep: Staff) -> list[Step]:
        rng = self.rng
        fate = self.fate(item, rep)
        if fate == "idle":  # the rep never calls; most are handed over by the manager next day
            if rng.random() < 0.7:
                return [Step(working(rng, start + self._gap(24, 30)), reassign=True)]
            return []
        delay = timedelta(minutes=rng.lognormvariate(math.log(rep.first_call_min), 0.9))
        at = working(rng, start + delay)
        steps: list[Step] = []
        if fate == "bad":
            if rng.random() < 0.3:
                steps.append(Step(at, "no_answer"))
                at = working(rng, at + self._gap(1, 20))
            return [*steps, Step(at, "wrong_number")]
        if fate == "unreachable":
            for _ in range(rng.randint(2, 5)):
                steps.append(Step(at, rng.choice(["no_answer", "no_answer", "busy_callback"])))
                at = self._retry(at)
            return steps
        steps, at = self._misses(at, 2)
        if fate == "refused":
            if rng.random() < 0.25:  # heard the offer first
                steps.append(Step(at, "consulted"))
                at = working(rng, at + self._gap(24, 24 * 6))
            return [*steps, Step(at, "refused")]
        if fate == "thinking":
            return [*steps, Step(at, "thinking")]
        steps.append(Step(at, "consulted" if rng.random() < 0.6 else "thinking"))
        if fate == "consulted":
            if steps[-1].outcome == "thinking":
                steps.append(Step(working(rng, at + self._gap(24, 24 * 5)), "consulted"))
            return steps
        at = working(rng, at + self._gap(20, 24 * 12))  # won: the closing call days later
        if rng.random() < 0.4:
            steps.append(Step(at, "consulted"))
            at = working(rng, at + self._gap(20, 24 * 6))
        return [*steps, Step(at, "bought")]


# ------------------------------------------------------------------ the loader


@dataclass
class DemoResult:
    workspace: Workspace
    created: bool
    counts: Counter
    seconds: float = 0.0


class Loader:
    """Replays the plan in time order through the services, the clock moved to each moment."""

    def __init__(
        self, workspace: Workspace, members: dict[str, Member], rng: random.Random, now: datetime
    ):
        self.workspace, self.members, self.rng, self.now = workspace, members, rng, now
        self.by_id = {m.pk: m for m in members.values()}
        self.style = {m.pk: s for s in STAFF if (m := members.get(s.login))}
        self.scripter = Scripter(rng)
        self.queue: list = []
        self.seq = itertools.count()
        self.counts: Counter = Counter()
        self.waiting: list[tuple[Lead, Planned]] = []  # captured while nobody was on shift
        self.intake = {
            "facebook": Actor.system(workspace, "Facebook Lead Ads"),
            "google": Actor.system(workspace, "Google Ads"),
            "website": Actor.system(workspace, "Website"),
        }

    def _push(self, at: datetime, action: Callable, *args) -> None:
        if at < self.now:  # the future has not happened yet
            heapq.heappush(self.queue, (at, next(self.seq), action, args))

    def run(self, plan: list[Planned]) -> Counter:
        for item in plan:
            self._push(item.at, self._capture, item)
        first = min((item.at for item in plan), default=self.now)
        tick = first.replace(minute=0, second=0, microsecond=0)
        while tick < self.now:  # the worker's SLA timers, looked at hourly
            self._push(tick, self._fire_timers)
            tick += TIMER_TICK
        while self.queue:
            at, _seq, action, args = heapq.heappop(self.queue)
            with clock.travel(at - clock.now()):
                action(*args)
        return self.counts

    def _fire_timers(self) -> None:
        while timers_fire_due() == TIMER_BATCH:
            continue
        waiting, self.waiting = self.waiting, []
        for lead, item in waiting:  # leads of the night, handed out when the shift began
            lead.refresh_from_db(fields=["owner"])
            if lead.owner_id:
                self._plan_care(lead, item, clock.now())
            else:
                self.waiting.append((lead, item))

    def _capture(self, item: Planned) -> None:
        kind = Touch.Kind.FORM if item.source == "website" else Touch.Kind.WEBHOOK
        captured = lead_capture(
            workspace=self.workspace,
            actor=self.intake[item.source],
            submission=item.submission(),
            kind=kind,
            raw=item.raw(),
        )
        self.counts["submissions"] += 1
        if not captured.created:
            self.counts["joined"] += 1
            return
        self.counts["leads"] += 1
        self.counts["returning"] += captured.returning
        if captured.lead.owner_id is None:
            self.waiting.append((captured.lead, item))
        else:
            self._plan_care(captured.lead, item, clock.now())

    def _plan_care(self, lead: Lead, item: Planned, start: datetime) -> None:
        rep = self.style.get(lead.owner_id, STAFF[-1])
        for step in self.scripter.script(item, start, rep):
            self._push(step.at, self._step, lead, item, step)

    def _step(self, lead: Lead, item: Planned, step: Step) -> None:
        if not lead.is_open or lead.owner_id not in self.by_id:
            return
        if step.reassign:
            self._reassign(lead, item)
            return
        rep = Actor.of(self.by_id[lead.owner_id])
        body = self.rng.choice(NOTES[step.outcome]) if self.rng.random() < 0.35 else ""
        if step.outcome == "bought":
            product = item.fields.get("product", "IELTS 6.5+")
            fee = f"{FEES.get(product, 6_000_000):,}".replace(",", ".")
            body = self.rng.choice(NOTES["bought"]).format(
                p=product, fee=fee, c=item.campaign.name or "tháng này"
            )
        low, high = DURATION[step.outcome]
        logged = activity_log(
            lead=lead,
            actor=rep,
            kind=Kind.CALL,
            outcome=step.outcome,
            duration_s=self.rng.randint(low, high),
            body=body,
        )
        self.counts["calls"] += 1
        if step.outcome in ("no_answer", "busy_callback") and self.rng.random() < 0.2:
            activity_log(
                lead=lead,
                actor=rep,
                kind=Kind.SMS,
                body="Đã nhắn tin giới thiệu khóa học và số hotline",
            )
            self.counts["messages"] += 1
        stage = logged.suggested_stage
        if stage is not None and stage.pk != lead.stage_id:
            reason = self.rng.choice(REASONS.get(step.outcome, [""]))
            lead_change_stage(lead=lead, actor=rep, stage_key=stage.key, reason=reason)
            self.counts["stage_changes"] += 1

    def _reassign(self, lead: Lead, item: Planned) -> None:
        """The manager hands an untouched lead to one of the three best reps."""
        sales = [m for m in self.members.values() if m.role == Role.SALES]
        reps = [m for m in sales if m.pk != lead.owner_id][:3]
        if not reps:
            return
        manager = Actor.of(self.members["manager"])
        owner = self.rng.choice(reps)
        lead_assign(lead=lead, actor=manager, owner_id=owner.pk, reason="Quá 24 giờ chưa liên hệ")
        self.counts["reassigned"] += 1
        self._plan_care(lead, item, clock.now())


def _ensure_members(workspace: Workspace) -> dict[str, Member]:
    system = Actor.system(workspace, "demo")
    existing = {
        m.user.email: m
        for m in Member.objects.filter(workspace=workspace).select_related("user", "workspace")
    }
    members = {}
    for staff in STAFF:
        email = demo_email(workspace.slug, staff.login)
        members[staff.login] = existing.get(email) or member_create(
            workspace=workspace,
            actor=system,
            email=email,
            full_name=staff.full_name,
            role=staff.role,
            team=staff.team,
            password=DEMO_PASSWORD,
        )
    return members


def _ensure_campaigns(workspace: Workspace, marketer: Member, today: date) -> None:
    actor = Actor.of(marketer)
    for plan in CAMPAIGNS:
        key = key_of(plan.name, 100)
        if not key or Campaign.objects.filter(workspace=workspace, key=key).exists():
            continue
        starts = today - timedelta(days=plan.first_day)
        ends = None if plan.ends_in is None else today + timedelta(days=plan.ends_in)
        with clock.travel(
            _day_start(starts - timedelta(days=3)) + timedelta(hours=10) - clock.now()
        ):
            campaign_create(
                workspace=workspace,
                actor=actor,
                name=plan.name,
                budget=plan.budget,
                starts_on=starts,
                ends_on=ends,
            )


def _ensure_form_channel(workspace: Workspace, marketer: Member) -> None:
    """The website's sign-up form, so Settings → Channels shows a snippet to copy."""
    if not Channel.objects.filter(workspace=workspace, kind=Channel.Kind.FORM).exists():
        channel_create(
            workspace=workspace,
            actor=Actor.of(marketer),
            kind=Channel.Kind.FORM,
            name="Website — đăng ký học thử",
            settings={
                "allowed_origins": ["https://anhngu-demo.example.vn"],
                "consent_text": "Tôi đồng ý để trung tâm gọi điện tư vấn về khóa học.",
                "rate_limit": "10",
            },
        )


def demo_delete(*, slug: str) -> bool:
    """Delete a workspace with everything in it (the demo's --reset). True if there was one.

    There is no workspace-deletion service yet; Django's cascades do the work. Users stay
    (they are global and may belong to other workspaces).
    """
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        return False
    with transaction.atomic():
        Lead.objects.filter(workspace=workspace).delete()  # leads first: they protect stages
        workspace.delete()
    return True


def demo_load(
    *, slug: str = DEFAULT_SLUG, leads: int = DEFAULT_LEADS, seed: int = SEED, reset: bool = False
) -> DemoResult:
    """Create the demo workspace, or keep it when it already has leads (unless `reset`).

    All in one transaction: a failed run leaves nothing half-made behind.
    """
    validate_password(DEMO_PASSWORD)
    started = wallclock.monotonic()
    with transaction.atomic():
        if reset:
            demo_delete(slug=slug)
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace and Lead.objects.filter(workspace=workspace).exists():
            _ensure_members(workspace)
            counts = Counter(leads=Lead.objects.filter(workspace=workspace).count())
            return DemoResult(workspace, False, counts, wallclock.monotonic() - started)
        rng = random.Random(seed)
        now = clock.now()
        today = now.astimezone(TZ).date()
        opened = _day_start(today - timedelta(days=DAYS + 7)) + timedelta(hours=9)
        with clock.travel(opened - clock.now()):
            if workspace is None:
                workspace = workspace_create(slug=slug, name=WORKSPACE_NAME, preset="telesales")
                policy_update(workspace=workspace, actor=Actor.system(workspace, "demo"), **SLA)
            members = _ensure_members(workspace)
        _ensure_campaigns(workspace, members["marketer"], today)
        plan = Planner(rng, now, leads).plan()
        counts = Loader(workspace, members, rng, now).run(plan)
        _ensure_form_channel(workspace, members["marketer"])
        counts["possible_duplicates"] = duplicates_scan(workspace=workspace)
        seen = Notification.objects.filter(workspace=workspace, created_at__lt=now - timedelta(1))
        seen.update(read_at=F("created_at"))  # the team has read what is older than a day
    return DemoResult(workspace, True, counts, wallclock.monotonic() - started)
