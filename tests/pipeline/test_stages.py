"""Stage presets and the stage services (admin only), and GET /api/v1/stages."""

import pytest

from leadloop.core.errors import Conflict, Forbidden, ValidationFailed
from leadloop.core.services import workspace_create
from leadloop.pipeline.models import CLOSING_CATEGORIES, Category, Lead, Stage
from leadloop.pipeline.presets import PRESETS
from leadloop.pipeline.services import (
    lead_change_stage,
    stage_create,
    stage_preset_apply,
    stage_reorder,
    stage_update,
)
from tests.core.support import capture

TELESALES = [
    ("new", "new"),
    ("k3", "working"),
    ("k2", "qualified"),
    ("k5", "qualified"),
    ("k1", "won"),
    ("k4-1", "invalid"),
    ("k4-2", "lost"),
]


def test_three_presets_from_the_seeds_with_valid_categories():
    assert set(PRESETS) == {"telesales", "journey", "qualification"}
    for name, stages in PRESETS.items():
        keys = [s[0] for s in stages]
        categories = [s[3] for s in stages]
        assert len(keys) == len(set(keys)), name
        assert set(categories) <= set(Category.values), name
        assert categories[0] == "new", name
        assert categories.count("new") == 1, name
        assert "won" in categories, name
        assert {"lost", "invalid"} & set(categories), name
        assert all(s[1] and s[2] for s in stages), name  # Vietnamese and English names


def test_journey_and_qualification_presets_carry_the_seed_steps():
    journey = {s[2] for s in PRESETS["journey"]}
    assert {"New", "Interested", "Potential", "7-day trial", "Bought", "Not bought"} <= journey
    chain = {s[2] for s in PRESETS["qualification"]}
    assert {
        "New",
        "Researched",
        "Not reached",
        "Wrong target",
        "Potential",
        "Hot",
        "Closed",
    } <= chain


def test_a_new_workspace_gets_the_telesales_preset_k1_to_k5(db):
    workspace = workspace_create(slug="shop", name="Shop")
    stages = list(Stage.objects.filter(workspace=workspace))
    assert [(s.key, s.category) for s in stages] == TELESALES
    assert [s.position for s in stages] == sorted(s.position for s in stages)
    names = " ".join(s.name_vi for s in stages)
    for code in ("K1", "K2", "K3", "K4.1", "K4.2", "K5"):
        assert code in names


@pytest.mark.parametrize("preset", ["journey", "qualification"])
def test_workspace_with_another_preset(db, preset):
    workspace = workspace_create(slug=f"ws-{preset}", preset=preset)
    keys = list(Stage.objects.filter(workspace=workspace).values_list("key", flat=True))
    assert keys == [s[0] for s in PRESETS[preset]]


def test_preset_cannot_be_applied_twice_or_unknown(team, db):
    admin = team.actors["admin"]
    with pytest.raises(Conflict):
        stage_preset_apply(workspace=team.workspace, actor=admin, preset="journey")
    with pytest.raises(ValidationFailed):
        workspace_create(slug="bad-preset", preset="nope")
    with pytest.raises(Forbidden):
        stage_preset_apply(workspace=team.workspace, actor=team.actors["manager"], preset="journey")


def test_get_stages_lists_the_active_stages_in_order(team):
    body = team.api("sales").get("/stages").json()
    assert [(s["key"], s["category"]) for s in body] == TELESALES
    assert set(body[0]) >= {
        "key",
        "name",
        "name_vi",
        "name_en",
        "category",
        "position",
        "archived",
        "outcomes",
    }
    assert "busy_callback" in next(s for s in body if s["key"] == "k3")["outcomes"]


def test_a_new_stage_takes_a_slug_key_and_comes_before_the_closing_stages(team):
    admin, stages = team.actors["admin"], Stage.objects.filter(workspace=team.workspace)
    before = list(stages.order_by("position").values_list("key", "category"))
    working = stage_create(
        workspace=team.workspace, actor=admin, name_vi="Hẹn gặp", name_en="Meeting set",
        category="working",
    )  # fmt: skip
    lost = stage_create(workspace=team.workspace, actor=admin, name_vi="Hủy", category="lost")
    assert working.key == "meeting-set"
    keys = list(stages.order_by("position").values_list("key", flat=True))
    still_open = [key for key, category in before if category not in CLOSING_CATEGORIES]
    closing = [key for key, category in before if category in CLOSING_CATEGORIES]
    assert keys == [*still_open, "meeting-set", *closing, lost.key]
    vi_only = stage_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        name_vi="Dùng thử 7 ngày",
        category="qualified",
    )
    assert vi_only.key == "dung-thu-7-ngay"
    assert vi_only.name_en == "Dùng thử 7 ngày"
    listed = [s["key"] for s in team.api("admin").get("/stages").json()]
    assert listed == [*still_open, "meeting-set", "dung-thu-7-ngay", *closing, lost.key]


@pytest.mark.parametrize("role", ["manager", "marketer", "sales"])
def test_only_admins_manage_stages(team, role):
    actor = team.actors[role]
    stage = Stage.objects.get(workspace=team.workspace, key="k3")
    with pytest.raises(Forbidden):
        stage_create(workspace=team.workspace, actor=actor, name_vi="X", category="working")
    with pytest.raises(Forbidden):
        stage_update(
            stage=stage, actor=actor, name_vi="X", name_en="X", category="working", archived=False
        )
    with pytest.raises(Forbidden):
        stage_reorder(
            workspace=team.workspace, actor=actor, keys=[k for k, _c in reversed(TELESALES)]
        )
    assert Stage.objects.get(pk=stage.pk).name_vi.startswith("K3")


def test_stage_create_validation(team):
    admin = team.actors["admin"]
    with pytest.raises(ValidationFailed):
        stage_create(workspace=team.workspace, actor=admin, name_vi="  ", category="working")
    with pytest.raises(ValidationFailed):
        stage_create(workspace=team.workspace, actor=admin, name_vi="X", category="maybe")
    with pytest.raises(ValidationFailed):
        stage_create(workspace=team.workspace, actor=admin, name_vi="X" * 101, category="working")
    with pytest.raises(Conflict):
        stage_create(
            workspace=team.workspace, actor=admin, name_vi="Mới", name_en="New", category="new"
        )


def test_stage_update_renames_recategorises_and_archives(team):
    admin = team.actors["admin"]
    stage = Stage.objects.get(workspace=team.workspace, key="k5")
    stage_update(
        stage=stage,
        actor=admin,
        name_vi="K5 – Đã tư vấn",
        name_en="K5 – Consulted",
        category="working",
        archived=True,
    )
    stage.refresh_from_db()
    assert (stage.name_vi, stage.category, stage.archived) == ("K5 – Đã tư vấn", "working", True)
    assert stage.key == "k5"  # keys are stable: links and integrations keep working
    keys = [s["key"] for s in team.api("admin").get("/stages").json()]
    assert "k5" not in keys
    archived = team.api("admin").get("/stages", archived="true").json()
    assert "k5" in [s["key"] for s in archived]


def test_the_last_active_new_stage_cannot_be_archived(team):
    new = Stage.objects.get(workspace=team.workspace, key="new")
    with pytest.raises(ValidationFailed):
        stage_update(
            stage=new,
            actor=team.actors["admin"],
            name_vi="Mới",
            name_en="New",
            category="new",
            archived=True,
        )
    assert not Stage.objects.get(pk=new.pk).archived


def _recategorise(team, key: str, category: str):
    stage = Stage.objects.get(workspace=team.workspace, key=key)
    return stage_update(
        stage=stage, actor=team.actors["admin"], name_vi=stage.name_vi, name_en=stage.name_en,
        category=category, archived=False,
    )  # fmt: skip


def test_the_last_active_new_stage_keeps_its_category(team):
    with pytest.raises(ValidationFailed):
        _recategorise(team, "new", "working")  # captures would find no entry stage
    assert Stage.objects.get(workspace=team.workspace, key="new").category == "new"


@pytest.mark.parametrize(("key", "category"), [("k3", "won"), ("k2", "lost"), ("k1", "working")])
def test_a_stage_with_leads_keeps_a_category_that_opens_or_closes_them(team, key, category):
    lead = capture(team, phone="0912345678").lead
    lead_change_stage(lead=lead, actor=team.actors["admin"], stage_key=key)
    with pytest.raises(ValidationFailed) as refused:
        _recategorise(team, key, category)
    assert "1" in refused.value.fields["category"][0]
    before = Stage.objects.get(workspace=team.workspace, key=key).category
    assert before != category
    lead_change_stage(lead=Lead.objects.get(pk=lead.pk), actor=team.actors["admin"], stage_key="k5")
    assert _recategorise(team, key, category).category == category  # empty now


def test_a_stage_with_leads_may_change_between_open_categories(team):
    lead = capture(team, phone="0912345678").lead
    lead_change_stage(lead=lead, actor=team.actors["admin"], stage_key="k3")
    assert _recategorise(team, "k3", "qualified").category == "qualified"
    assert Lead.objects.get(pk=lead.pk).is_open


def test_stage_reorder(team):
    admin = team.actors["admin"]
    order = ["new", "k3", "k5", "k2", "k1", "k4-2", "k4-1"]
    stage_reorder(workspace=team.workspace, actor=admin, keys=order)
    assert [s["key"] for s in team.api("admin").get("/stages").json()] == order
    for wrong in (order[:-1], [*order, "k9"], [*order[:-1], "k1"]):
        with pytest.raises(ValidationFailed):
            stage_reorder(workspace=team.workspace, actor=admin, keys=wrong)
    assert [s["key"] for s in team.api("admin").get("/stages").json()] == order


def test_stages_are_per_workspace(team, other_team):
    stage_create(
        workspace=other_team.workspace,
        actor=other_team.actors["admin"],
        name_vi="Riêng",
        name_en="Private",
        category="working",
    )
    assert "private" not in [s["key"] for s in team.api("admin").get("/stages").json()]
    assert "private" in [s["key"] for s in other_team.api("admin").get("/stages").json()]
