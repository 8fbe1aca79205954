"""POST /leads/bulk must end exactly where the same bodies sent one by one to POST /leads end.

The bulk path plays the batch in memory and writes it set-wise; this differential test sends
random batches (duplicates inside the batch, old phone forms, e-mail case, phone/e-mail splits,
repeated external ids, bad items, returning contacts) both ways, into two identical workspaces,
and compares the answers and every row they leave behind."""

import random

import pytest

from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.core.models import Member
from leadloop.intake.models import Touch
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import Lead, LeadEvent
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.models import Rule
from tests.core.support import capture

PHONES = [
    "0912345678",
    "+84 912 345 678",
    "0162 345 6789",
    "0323456789",
    "0987654321",
    "12345",
    "",
    "",
    "",
]
EMAILS = ["an@example.com", "AN@Example.com ", "binh@example.com", "not-an-email", "", "", ""]
NAMES = ["Nguyễn Văn An", "Trần Bình", "", "Lê 3", "Phạm Thị Hoa"]
SOURCES = ["facebook", "Google", "", "zalo"]
CAMPAIGNS = ["Tết 2027", "tet-2027", "", "Hè 2026"]
EXTERNAL = ["", "", "", "x-1", "x-2"]


def random_body(rng: random.Random):
    roll = rng.random()
    if roll < 0.05:
        return 7  # not an object
    if roll < 0.1:
        return {"full_name": "không liên lạc"}
    body = {
        "full_name": rng.choice(NAMES),
        "phone": rng.choice(PHONES),
        "email": rng.choice(EMAILS),
        "source": rng.choice(SOURCES),
        "campaign": rng.choice(CAMPAIGNS),
        "external_id": rng.choice(EXTERNAL),
        "utm_source": rng.choice(["", "fb"]),
        "fields": {"n": rng.randrange(3)},
    }
    if roll < 0.13:
        body["unknown"] = 1
    return {k: v for k, v in body.items() if v != "" or rng.random() < 0.5}


def prepare(team) -> None:
    """The same earlier history in each workspace: a closed lead, an open one, an e-mail."""
    first = capture(team, full_name="Cũ", phone="0987654321").lead
    lead_change_stage(lead=first, actor=team.actors["admin"], stage_key="k4-2")
    capture(team, phone="0323456789", source="facebook", external_id="x-2")
    capture(team, full_name="Bình", email="binh@example.com")


def snapshot(team, answers: list) -> dict:
    ws = team.workspace
    contacts = {c.pk: i for i, c in enumerate(Contact.objects.filter(workspace=ws).order_by("id"))}
    leads = {lead.pk: i for i, lead in enumerate(Lead.objects.filter(workspace=ws).order_by("id"))}

    def answer(result):
        if result["status"] == 422:
            return 422, result["error"]["code"]
        lead = result["lead"]
        return (
            result["status"],
            leads[lead["id"]],
            contacts[lead["contact_id"]],
            lead["created"],
            lead["returning"],
            lead["duplicate_of"] is not None,
            lead["stage"],
            (lead["owner"] or {}).get("name"),
            lead["quality"],
        )

    turn = Rule.objects.get(workspace=ws, fallback=True).state.get("last")
    return {
        "answers": [answer(r) for r in answers],
        "contacts": [
            (
                c.full_name,
                c.phone_raw,
                c.phone_e164,
                c.phone_valid,
                c.email,
                c.email_valid,
                c.search_key,
            )
            for c in Contact.objects.filter(workspace=ws).order_by("id")
        ],
        "leads": [
            (
                contacts[x.contact_id],
                x.is_open,
                x.returning,
                x.source and x.source.key,
                x.campaign and x.campaign.key,
                x.owner and x.owner.full_name,
                x.stage.key,
                x.external_id,
                x.fields,
                x.note,
                x.utm_source,
                x.assigned_at is not None,
            )
            for x in Lead.objects.filter(workspace=ws).order_by("id")
        ],
        "touches": [
            (
                leads[t.lead_id],
                contacts[t.contact_id],
                t.kind,
                t.source and t.source.key,
                t.campaign and t.campaign.key,
                t.external_id,
                t.dedupe_key,
                t.utm,
                t.fields,
                t.raw,
            )
            for t in Touch.objects.filter(workspace=ws).order_by("id")
        ],
        "events": sorted(
            (
                leads[e.lead_id],
                e.kind,
                e.to_owner and e.to_owner.full_name,
                e.reason,
                sorted(e.data.items()),
            )
            for e in LeadEvent.objects.filter(workspace=ws)
        ),
        "pairs": sorted(
            (contacts[p.contact_id], contacts[p.other_id], p.reason)
            for p in PossibleDuplicate.objects.filter(workspace=ws)
        ),
        "notifications": sorted(
            # the text may differ: in a batch, a later item can give the name the first lacked
            (n.member.full_name, leads[n.lead_id], n.kind, bool(n.message))
            for n in Notification.objects.filter(workspace=ws)
        ),
        "turn": turn and Member.objects.get(pk=turn).full_name,
        "sources": sorted(ws.sources.values_list("key", "name")),
        "campaigns": sorted(ws.campaigns.values_list("key", "name")),
    }


@pytest.mark.parametrize("seed", range(12))
def test_bulk_ends_where_one_by_one_ends(team, other_team, seed):
    rng = random.Random(seed)
    bodies = [random_body(rng) for _ in range(rng.randrange(1, 30))]
    prepare(team)
    prepare(other_team)
    bulk = team.api("admin").post("/leads/bulk", {"leads": bodies})
    assert bulk.status_code == 200, bulk.content
    answers = bulk.json()["results"]
    assert [r["index"] for r in answers] == list(range(len(bodies)))
    api = other_team.api("admin")
    singles = []
    for body in bodies:
        response = api.post("/leads", body)
        assert response.status_code in (200, 201, 422), response.content
        singles.append(
            {
                "status": response.status_code,
                **(
                    {"error": response.json()["error"]}
                    if response.status_code == 422
                    else {"lead": response.json()}
                ),
            }
        )
    assert snapshot(team, answers) == snapshot(other_team, singles), bodies
