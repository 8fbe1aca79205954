"""`/api/v1/imports`: upload and start, follow, error rows; roles and workspaces."""

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from leadloop.intake.models import Import
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error
from tests.intake.test_import_files import HEADER, ROWS, csv_text
from tests.intake.test_import_pages import tasks  # noqa: F401 (a fixture)

DATA = csv_text([HEADER, *ROWS], "\t").encode("utf-16")


def post(api, data=DATA, **form):
    body = {"file": SimpleUploadedFile("list.txt", data), "origin": "Website cũ, có đồng ý"}
    return api.client.post("/api/v1/imports", body | form)


def test_a_marketer_uploads_and_follows_an_import(team, tasks):  # noqa: F811
    api = team.api("marketer")
    with tasks():
        response = post(api, source="Website cũ", mapping='{"Quận": "ignore"}')
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["encoding"], body["delimiter"]) == ("queued", "utf-16", "\t")
    assert body["mapping"] == ["full_name", "phone", "email", "", "note"]
    done = api.get(f"/imports/{body['id']}").json()
    assert (done["status"], done["percent"], done["created"], done["invalid"]) == (
        "done",
        100,
        3,
        1,
    )
    assert Lead.objects.get(contact__full_name="Phạm Quỳnh").fields == {}
    # times as every answer gives them: the workspace's (Asia/Ho_Chi_Minh), with its offset
    assert body["created_at"].endswith("+07:00") and body["finished_at"] is None
    assert done["finished_at"].endswith("+07:00") and done["finished_at"] >= done["created_at"]
    errors = api.get(f"/imports/{body['id']}/errors").json()
    assert errors["total"] == 1 and errors["items"][0]["row"] == 4
    assert errors["items"][0]["column"] == "SĐT / E-mail"


def test_refusals_leave_nothing_behind(team):
    api = team.api("admin")
    assert_error(post(api, data=b"\x00\x01\x02" * 100), 422, "import_not_a_table")
    assert_error(post(api, mapping='{"SĐT": "ignore", "E-mail": "ignore"}'), 422, "import_mapping")
    assert_error(post(api, mapping='["SĐT"]'), 422)
    assert_error(post(api, mapping='{"a":' * 5000), 422)  # nested too deeply to read
    assert_error(post(api, origin=""), 422)
    assert_error(post(api, mapping='{"Nope": "phone"}'), 422, "import_mapping")
    assert not Import.objects.exists()
    folder = Path(settings.VAR_DIR) / "imports" / str(team.workspace.pk)
    assert folder.is_dir() and not any(folder.iterdir())


def test_roles_and_workspaces(team, other_team):
    assert_error(post(team.api("sales")), 403)
    response = post(other_team.api("admin"))
    theirs = response.json()["id"]
    api = team.api("admin")
    assert_error(api.get(f"/imports/{theirs}"), 404)
    assert_error(api.get(f"/imports/{theirs}/errors"), 404)
    assert_error(team.api("sales").get(f"/imports/{theirs}"), 403)


def test_a_nul_in_the_form_s_texts_is_refused_on_its_field(team):
    api = team.api("marketer")
    for field in ("origin", "source", "campaign", "mapping"):
        error = assert_error(post(api, **{field: "hội chợ\x00"}), 422)
        assert list(error["fields"]) == [field]
    assert not Import.objects.exists()
