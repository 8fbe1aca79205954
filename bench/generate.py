"""Synthetic lead submissions for benchmarks: realistic Vietnamese people, bad data, duplicates.

Standard library only, so it runs without Django. As a script it writes JSON lines:

    python bench/generate.py --count 1000 --duplicates 0.1 --seed 7 > leads.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import unicodedata

FAMILY = ["Nguyễn"] * 38 + ["Trần"] * 11 + ["Lê"] * 9 + ["Phạm"] * 7 + [
    "Hoàng", "Hoàng", "Huỳnh", "Huỳnh", "Phan", "Phan", "Phan", "Vũ", "Vũ", "Võ", "Đặng", "Đặng",
    "Bùi", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
]  # fmt: skip
MIDDLE = {
    "m": ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành", "Hoàng", "Ngọc", "Xuân", "Gia"],
    "f": ["Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Phương", "Bảo", "Khánh", "Mai"],
}
GIVEN = {
    "m": [
        "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Huy", "Khoa", "Long", "Minh",
        "Nam", "Phong", "Phúc", "Quang", "Sơn", "Thắng", "Trung", "Tuấn", "Tùng", "Việt", "Vinh",
    ],
    "f": [
        "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Huyền", "Lan", "Linh",
        "Mai", "My", "Nga", "Ngọc", "Nhung", "Phương", "Quỳnh", "Thảo", "Trang", "Vân", "Yến",
    ],
}  # fmt: skip
PREFIXES = (  # Viettel, VinaPhone, MobiFone, Vietnamobile (REFERENCE.md)
    ["32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98"] * 2
    + ["81", "82", "83", "84", "85", "88", "91", "94", "70", "76", "77", "78", "79", "89", "90"]
    + ["93", "52", "56", "58", "92"]
)
OLD = {  # 2018 conversion, new two-digit prefix -> old three-digit prefix
    "32": "162", "33": "163", "34": "164", "35": "165", "36": "166", "37": "167", "38": "168",
    "39": "169", "83": "123", "84": "124", "85": "125", "81": "127", "82": "129", "70": "120",
    "79": "121", "77": "122", "76": "126", "78": "128", "56": "186", "58": "188",
}  # fmt: skip
SOURCES = ["facebook"] * 5 + ["google"] * 3 + ["website"] * 2
CAMPAIGNS = ["Tết 2027", "Khai trương chi nhánh Cầu Giấy", "Học thử miễn phí", "Black Friday", ""]
DISTRICTS = ["Cầu Giấy", "Đống Đa", "Thanh Xuân", "Hoàng Mai", "Quận 1", "Quận 7", "Gò Vấp"]
PRODUCTS = ["IELTS 6.5+", "Tiếng Anh giao tiếp", "Tiếng Anh trẻ em", "TOEIC 650+"]
BUDGETS = ["dưới 5 triệu", "5–10 triệu", "10–20 triệu", "trên 20 triệu"]
WRONG = ["123456", "0000000000", "09123", "0111 222 333", "1900 1234", "0912abc678"]


def fold(text: str) -> str:
    bare = "".join(
        c for c in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(c)
    )
    return bare.replace("đ", "d")


def written(rng: random.Random, n: str) -> str:
    """One of the forms a Vietnamese mobile arrives in (n: nine national digits)."""
    forms = [
        f"0{n[:3]} {n[3:6]} {n[6:]}", f"0{n}", f"0{n[:3]}.{n[3:6]}.{n[6:]}",
        f"+84 {n[:3]} {n[3:6]} {n[6:]}", f"84{n}", n, f"(+84) {n[:3]}-{n[3:6]}-{n[6:]}",
        f"0{OLD[n[:2]]}{n[2:]}" if n[:2] in OLD else f"0{n}",
    ]  # fmt: skip
    return rng.choices(forms, weights=[30, 30, 8, 8, 6, 5, 3, 10])[0]


class Generator:
    """Lead bodies for `POST /api/v1/leads`; `duplicates` of them repeat an earlier person."""

    def __init__(self, seed: int = 1, duplicates: float = 0.1, bad: float = 0.06):
        self.rng = random.Random(seed)
        self.duplicates, self.bad = duplicates, bad
        self.people: list[dict] = []
        self.serial = 0
        self.taken: set[str] = set()  # numbers and e-mails already given to someone

    def person(self) -> dict:
        """A new person: no number or e-mail of an earlier one, so only `duplicates` repeat."""
        while True:
            person = self._draw()
            keys = {person["national"], person["email"]} - {""}
            if not keys & self.taken:
                self.taken |= keys
                return person

    def _draw(self) -> dict:
        rng = self.rng
        gender = rng.choice("mf")
        family, middle, given = (
            rng.choice(FAMILY),
            rng.choice(MIDDLE[gender]),
            rng.choice(GIVEN[gender]),
        )
        national = rng.choice(PREFIXES) + f"{rng.randrange(10_000_000):07d}"
        email = ""
        if rng.random() < 0.35:
            local = fold(f"{family}{middle}{given}").replace(" ", "")
            email = f"{local}{rng.randint(1, 9999)}@{rng.choice(['gmail.com', 'yahoo.com'])}"
        return {"name": f"{family} {middle} {given}", "national": national, "email": email}

    def body(self) -> dict:
        rng = self.rng
        self.serial += 1
        if self.people and rng.random() < self.duplicates:
            person = rng.choice(self.people)
        else:
            person = self.person()
            self.people.append(person)
        phone = written(rng, person["national"])
        name = person["name"]
        if rng.random() < self.bad:
            phone = rng.choice(WRONG)
        if rng.random() < self.bad / 3:
            name = rng.choice(["test", "asdf", "Lan 0912", "abc123"])
        source = rng.choice(SOURCES)
        body = {
            "full_name": name,
            "phone": phone,
            "email": person["email"],
            "source": source,
            "campaign": rng.choice(CAMPAIGNS),
            "fields": {
                "district": rng.choice(DISTRICTS),
                "product": rng.choice(PRODUCTS),
                "budget": rng.choice(BUDGETS),
            },
        }
        if source != "website":
            body["external_id"] = f"{source}-{self.serial}-{rng.randrange(10**12)}"
            body["utm_source"] = source
            body["utm_medium"] = "cpc"
        return body

    def batch(self, size: int) -> list[dict]:
        return [self.body() for _ in range(size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generator = Generator(seed=args.seed, duplicates=args.duplicates)
    for _ in range(args.count):
        sys.stdout.write(json.dumps(generator.body(), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
