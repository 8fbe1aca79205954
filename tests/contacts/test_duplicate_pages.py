"""The queue page, "not a duplicate", the merge page (preview, choice, merge) and the lead page's
box; roles and tenancy; the queue API."""

import pytest

from leadloop.contacts.models import Contact, PossibleDuplicate
from leadloop.contacts.services import duplicates_find
from leadloop.pipeline.models import Lead
from tests.core.support import assert_error, capture


@pytest.fixture
def flagged(team):
    a = capture(team, full_name="Nguyễn Văn An", phone="0912345678").lead
    b = capture(team, full_name="Nguyen Van An", phone="0912345679", email="an@example.com").lead
    duplicates_find(workspace=team.workspace, contacts=list(Contact.objects.all()))
    return a, b, PossibleDuplicate.objects.get()


def test_queue_lists_pairs_with_merge_and_dismiss(team, flagged):
    _a, _b, pair = flagged
    page = team.browser_client("manager").get("/contacts/duplicates/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Nguyễn Văn An" in html and "Nguyen Van An" in html
    assert "Similar name, phone one digit apart" in html
    assert f"/contacts/{pair.other_id}/merge/?into={pair.contact_id}" in html
    assert f"/contacts/duplicates/{pair.pk}/dismiss/" in html


def test_queue_in_vietnamese(team, flagged):
    page = team.browser_client("manager").get("/contacts/duplicates/?lang=vi")
    assert "Có thể trùng" in page.content.decode()


def test_dismiss_from_the_page(team, flagged):
    _a, _b, pair = flagged
    client = team.browser_client("admin")
    answer = client.post(
        f"/contacts/duplicates/{pair.pk}/dismiss/", {"next": "https://evil.example/"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/contacts/duplicates/"
    pair.refresh_from_db()
    assert pair.status == "dismissed" and pair.decided_by == team.members["admin"]
    assert "Nguyen Van An" not in client.get("/contacts/duplicates/").content.decode()


def test_dismissing_on_the_page_comes_back_where_the_pair_was(team, flagged):
    _a, _b, pair = flagged
    client = team.browser_client("admin")
    page = client.get("/contacts/duplicates/?page=1").content.decode()
    assert 'name="next" value="/contacts/duplicates/?page=1#row-1"' in page
    answer = client.post(
        f"/contacts/duplicates/{pair.pk}/dismiss/", {"next": "/contacts/duplicates/?page=1#row-1"}
    )
    assert answer["Location"] == "/contacts/duplicates/?page=1#row-1"  # the next pair, in view


@pytest.mark.parametrize("role", ["sales", "marketer"])
def test_queue_is_for_managers_and_admins(team, flagged, role):
    _a, _b, pair = flagged
    client = team.browser_client(role)
    assert client.get("/contacts/duplicates/").status_code == 403
    assert client.post(f"/contacts/duplicates/{pair.pk}/dismiss/").status_code == 403
    assert_error(team.api(role).get("/duplicates"), 403, "forbidden")
    assert PossibleDuplicate.objects.get().status == "open"


def test_other_workspace_pairs_are_404(team, other_team, flagged):
    _a, _b, pair = flagged
    assert (
        other_team.browser_client("admin")
        .post(f"/contacts/duplicates/{pair.pk}/dismiss/")
        .status_code
        == 404
    )
    assert_error(other_team.api("admin").post(f"/duplicates/{pair.pk}/dismiss"), 404)
    assert other_team.api("admin").get("/duplicates").json()["total"] == 0


def test_queue_api_and_dismiss(team, flagged):
    _a, _b, pair = flagged
    api = team.api("manager")
    items = api.get("/duplicates").json()["items"]
    assert [(i["id"], i["reason"]) for i in items] == [(pair.pk, "phone_typo")]
    assert api.post(f"/duplicates/{pair.pk}/dismiss").json()["status"] == "dismissed"
    assert api.get("/duplicates").json()["total"] == 0
    assert api.get("/duplicates", status="dismissed").json()["total"] == 1


def test_merge_page_previews_then_merges(team, flagged):
    a, b, _pair = flagged
    client = team.browser_client("manager")
    url = f"/contacts/{b.contact_id}/merge/"
    preview = client.get(
        url, {"into": a.contact_id, "full_name": b.contact_id}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = preview.content.decode()
    assert preview.status_code == 200 and 'id="merge-preview"' in html
    invalid = team.workspace.stages.get(category="invalid")
    assert f"closes in {invalid.name_en} as merged; its submissions" in html  # both are open
    assert Contact.objects.filter(pk=b.contact_id).exists()
    done = client.post(url, {"into": a.contact_id, "full_name": b.contact_id})
    assert done.status_code == 302 and done["Location"] == f"/leads/{a.pk}/"
    survivor = Contact.objects.get(pk=a.contact_id)
    assert survivor.full_name == "Nguyen Van An" and survivor.email == "an@example.com"
    assert not Contact.objects.filter(pk=b.contact_id).exists()
    assert client.get(url, {"into": a.contact_id}).status_code == 404


def test_merge_page_shows_what_it_keeps_chosen_before_any_choice(team, flagged):
    a, b, _pair = flagged
    page = team.browser_client("manager").get(
        f"/contacts/{b.contact_id}/merge/", {"into": a.contact_id}
    )
    form = page.context["form"]
    assert form["phone"].value() == str(a.contact_id)  # both valid: the survivor's
    assert form["email"].value() == str(b.contact_id)  # only the merged-away one has one
    assert page.content.decode().count(" checked") == 3


def test_merge_page_by_lead_number_and_bad_choice(team, flagged):
    a, b, _pair = flagged
    client = team.browser_client("admin")
    url = f"/contacts/{b.contact_id}/merge/"
    page = client.get(url, {"lead": a.pk})
    assert page.status_code == 200 and f"#{a.contact_id}" in page.content.decode()
    assert client.get(url, {"into": a.contact_id, "phone": "12345"}).status_code == 400
    assert client.get(url, {"into": b.contact_id}).status_code == 400  # itself
    assert client.get(url).status_code == 422  # no contact to merge into


def test_merge_page_roles_and_tenancy(team, other_team, flagged):
    a, b, _pair = flagged
    theirs = capture(other_team, full_name="X", phone="0912345670").lead
    url = f"/contacts/{b.contact_id}/merge/"
    Lead.objects.update(owner=team.members["sales"])
    assert team.browser_client("sales").post(url, {"into": a.contact_id}).status_code == 403
    client = team.browser_client("admin")
    assert client.get(url, {"into": theirs.contact_id}).status_code == 404
    assert (
        client.get(f"/contacts/{theirs.contact_id}/merge/", {"into": a.contact_id}).status_code
        == 404
    )
    assert Contact.objects.count() == 3


def test_lead_page_shows_duplicates_to_managers(team, flagged):
    a, b, _pair = flagged
    html = team.browser_client("manager").get(f"/leads/{a.pk}/").content.decode()
    assert 'id="duplicates"' in html
    assert f"/contacts/{b.contact_id}/merge/?into={a.contact_id}" in html
    Lead.objects.update(owner=team.members["sales"])
    html = team.browser_client("sales").get(f"/leads/{a.pk}/").content.decode()
    assert 'id="duplicates"' not in html
