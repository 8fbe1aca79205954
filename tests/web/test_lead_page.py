"""/leads/<id>/: what it shows, and the stage, call, note and reassign forms with their effects."""

import pytest

from leadloop.activities.models import Activity
from leadloop.activities.services import activity_log
from leadloop.intake.services import Submission, lead_capture
from leadloop.notifications.models import Notification
from leadloop.pipeline.models import LeadEvent
from leadloop.pipeline.services import lead_change_stage
from leadloop.routing.models import Timer
from leadloop.routing.services import lead_assign
from tests.web.leads import browser, capture, routed_to


@pytest.fixture
def lead(team):
    return capture(
        team,
        owner="sales",
        full_name="Nguyễn Văn An",
        email="an@example.com",
        source="facebook",
        campaign="Tết 2027",
        utm={"utm_source": "fb-ads"},
        fields={"budget": "2 tỷ"},
        note="Gọi buổi tối",
    )


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "sales"])
def test_the_lead_page_renders_for_every_role_that_sees_it(team, lead, role):
    response = browser(team, role).get(f"/leads/{lead.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nguyễn Văn An" in html
    assert f'href="tel:{lead.contact.phone_e164}"' in html
    assert 'href="mailto:an@example.com"' in html
    assert "fb-ads" in html and "2 tỷ" in html and "Tết 2027" in html
    assert "Gọi buổi tối" in html


def test_forms_follow_the_role(team, lead):
    sales = browser(team, "sales").get(f"/leads/{lead.pk}/").content.decode()
    assert f'action="/leads/{lead.pk}/call/"' in sales
    assert f'action="/leads/{lead.pk}/assign/"' not in sales
    marketer = browser(team, "marketer").get(f"/leads/{lead.pk}/").content.decode()
    assert f'action="/leads/{lead.pk}/call/"' not in marketer
    manager = browser(team, "manager").get(f"/leads/{lead.pk}/").content.decode()
    assert f'action="/leads/{lead.pk}/assign/"' in manager


def test_quality_issues_come_from_the_stored_fields(team):
    bad = capture(team, full_name="Lan 123", phone="0123", email="not-an-email")
    html = browser(team, "manager").get(f"/leads/{bad.pk}/").content.decode()
    assert "Name contains digits" in html
    assert "Phone number is not valid" in html
    assert "E-mail address is not valid" in html


def test_touches_show_their_utm_and_raw_fields(team):
    first = lead_capture(
        workspace=team.workspace,
        actor=team.actors["admin"],
        raw={"ad": "A1"},
        submission=Submission(phone="0912000111", source="facebook", utm={"utm_campaign": "xuan"}),
    ).lead
    lead_capture(
        workspace=team.workspace,
        actor=team.actors["admin"],
        raw={"ad": "B2"},
        submission=Submission(phone="0912 000 111", source="google"),
    )
    html = browser(team, "manager").get(f"/leads/{first.pk}/").content.decode()
    assert "2 submissions" in html
    assert "xuan" in html and "&quot;ad&quot;: &quot;A1&quot;" in html
    assert "&quot;ad&quot;: &quot;B2&quot;" in html
    assert "New submission (API)" in html


def test_changing_the_stage(team, lead):
    client = browser(team, "sales")
    response = client.post(
        f"/leads/{lead.pk}/stage/", {"stage-stage": "k2", "stage-reason": "wants a visit"}
    )
    assert response.status_code == 302
    assert response.url == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert lead.stage.key == "k2"
    html = client.get(response.url).content.decode()
    assert "Stage changed to K2 – Thinking it over." in html
    assert "Stage changed from New to K2 – Thinking it over" in html
    assert "wants a visit" in html
    again = client.post(f"/leads/{lead.pk}/stage/", {"stage-stage": "k2"}, follow=True)
    html = again.content.decode()
    assert "The lead is already in K2 – Thinking it over." in html
    assert "Stage changed to" not in html
    assert LeadEvent.objects.filter(lead=lead, kind="stage").count() == 1


def test_an_unknown_stage_is_a_form_error(team, lead):
    response = browser(team, "sales").post(f"/leads/{lead.pk}/stage/", {"stage-stage": "nope"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_lead_in_an_archived_stage_is_not_offered_another_stage_by_default(team, lead):
    lead_change_stage(lead=lead, actor=team.actors["sales"], stage_key="k2")
    team.workspace.stages.filter(key="k2").update(archived=True)
    client = browser(team, "sales")
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert (
        '<option value="" selected>K2 – Thinking it over (archived): choose another</option>'
    ) in html
    refused = client.post(f"/leads/{lead.pk}/stage/", {"stage-stage": "", "stage-reason": "x"})
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    lead.refresh_from_db()
    assert lead.stage.key == "k2"


def test_a_service_refusal_shows_on_the_form(team, lead):
    lead_change_stage(lead=lead, actor=team.actors["sales"], stage_key="k4-2")
    capture(team, phone=lead.contact.phone_raw)  # the contact comes back: a new open lead
    response = browser(team, "manager").post(f"/leads/{lead.pk}/stage/", {"stage-stage": "k3"})
    assert response.status_code == 400
    assert "already has another open lead" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage.key == "k4-2"


def test_a_call_s_length_shows_as_said_under_a_minute_too(team, lead):
    for seconds in (30, 150):
        activity_log(lead=lead, actor=team.actors["sales"], kind="call", duration_s=seconds)
    html = browser(team, "sales").get(f"/leads/{lead.pk}/?lang=en").content.decode()
    assert "· 30 s" in html and "· 2 min" in html and "· 0 min" not in html


def test_a_negative_duration_is_told_in_plain_vietnamese(team, lead):
    response = browser(team, "sales").post(
        f"/leads/{lead.pk}/call/?lang=vi", {"call-minutes": "-1"}
    )
    assert response.status_code == 400
    assert "Giá trị phải lớn hơn hoặc bằng 0." in response.content.decode()
    assert not Activity.objects.exists()


def test_logging_a_call_suggests_the_stage(team, lead):
    client = browser(team, "sales")
    response = client.post(
        f"/leads/{lead.pk}/call/",
        {"call-outcome": "busy_callback", "call-minutes": "2", "call-body": "gọi lại 5h chiều"},
    )
    assert response.status_code == 302
    assert response.url == f"/leads/{lead.pk}/?suggest=k3#stage"
    call = Activity.objects.get(lead=lead)
    assert (call.kind, call.outcome, call.duration_s, call.attempt) == (
        "call",
        "busy_callback",
        120,
        1,
    )
    page = client.get(f"/leads/{lead.pk}/?suggest=k3")
    assert page.context["stage_form"]["stage"].value() == "k3"
    html = page.content.decode()
    assert '<option value="k3" selected>' in html
    # shown in the stage form the page opens at (#stage), not above the fold on a phone
    stage_card = html[html.index('id="stage"') :]
    assert "Call logged. Suggested stage: K3 – Busy, call back." in stage_card
    assert html.count("Call logged.") == 1
    assert "Busy, call back" in html and "gọi lại 5h chiều" in html and "attempt 1" in html
    lead.refresh_from_db()
    assert lead.first_contact_at is not None


def test_a_call_without_outcome_and_a_note(team, lead):
    client = browser(team, "sales")
    assert client.post(f"/leads/{lead.pk}/call/", {"call-outcome": ""}).url == f"/leads/{lead.pk}/"
    assert client.post(f"/leads/{lead.pk}/note/", {"note-body": "khách hỏi giá"}).status_code == 302
    assert list(Activity.objects.filter(lead=lead).values_list("kind", flat=True)) == [
        "note",
        "call",
    ]
    assert "khách hỏi giá" in client.get(f"/leads/{lead.pk}/").content.decode()


def test_an_empty_note_is_refused(team, lead):
    response = browser(team, "sales").post(f"/leads/{lead.pk}/note/", {"note-body": ""})
    assert response.status_code == 400
    assert not Activity.objects.exists()


def test_a_marketer_posting_a_call_gets_the_forbidden_page(team, lead):
    response = browser(team, "marketer").post(f"/leads/{lead.pk}/call/", {"call-outcome": "bought"})
    assert response.status_code == 403
    assert "Your role does not allow this action." in response.content.decode()
    assert not Activity.objects.exists()


def test_a_manager_reassigns(team, lead):
    sales2 = team.members["sales2"]
    client = browser(team, "manager")
    response = client.post(
        f"/leads/{lead.pk}/assign/", {"assign-owner_id": str(sales2.pk), "assign-reason": "holiday"}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == sales2
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Reassigned from Sales Một to Sales Hai" in html and "holiday" in html


def test_a_sales_rep_cannot_reassign(team, lead):
    response = browser(team, "sales").post(
        f"/leads/{lead.pk}/assign/", {"assign-owner_id": str(team.members["sales2"].pk)}
    )
    assert response.status_code == 403
    assert "Only managers and admins can assign leads." in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == team.members["sales"]


def test_actions_on_another_workspace_lead_are_not_found(team, other_team):
    theirs = capture(other_team, owner="sales")
    client = team.browser_client("admin")
    assert client.post(f"/leads/{theirs.pk}/stage/", {"stage-stage": "k3"}).status_code == 404
    assert client.post(f"/leads/{theirs.pk}/call/", {"call-outcome": ""}).status_code == 404
    assert not Activity.objects.exists()


def test_the_lead_page_queries_are_bounded(team, lead, django_assert_max_num_queries):
    for _n in range(10):
        browser(team, "sales").post(f"/leads/{lead.pk}/call/", {"call-outcome": "no_answer"})
    client = browser(team, "manager")
    with django_assert_max_num_queries(18):
        client.get(f"/leads/{lead.pk}/")


def test_the_call_form_asks_for_minutes_callback_and_notes_before_the_outcome(team):
    lead = capture(team, owner="sales")
    html = browser(team, "sales").get(f"/leads/{lead.pk}/").content.decode()
    fields = [html.index(f'name="call-{name}"') for name in ("minutes", "callback_at", "body")]
    plain, first_outcome = html.index('class="plain-call"'), html.index('class="outcome outcome-')
    assert max(fields) < plain < first_outcome  # Enter in a field logs no outcome


class TestNewLead:
    def test_the_form_opens_a_lead(self, team):
        client = browser(team, "marketer")
        assert client.get("/leads/new/").status_code == 200
        response = client.post(
            "/leads/new/",
            {
                "full_name": "Phạm Thu",
                "phone": "0987 654 321",
                "source": "Hotline",
                "note": "gọi đến",
            },
        )
        lead = team.workspace.leads.get()
        assert response.url == f"/leads/{lead.pk}/"
        assert (lead.contact.full_name, lead.source.key, lead.note) == (
            "Phạm Thu",
            "hotline",
            "gọi đến",
        )
        assert lead.touches.get().kind == "manual"
        assert f"Lead #{lead.pk} created." in client.get(response.url).content.decode()

    def test_a_known_contact_joins_its_open_lead(self, team):
        lead = capture(team, phone="0987654321")
        client = browser(team, "manager")
        response = client.post("/leads/new/", {"phone": "+84 987 654 321"}, follow=True)
        assert response.redirect_chain[-1][0] == f"/leads/{lead.pk}/"
        assert f"Joined existing lead #{lead.pk}." in response.content.decode()
        assert team.workspace.leads.count() == 1

    @pytest.mark.parametrize(
        ("field", "value"), [("phone", "12345"), ("phone", "abc-def"), ("email", "abc@")]
    )
    def test_a_typo_in_the_phone_or_email_is_refused_on_its_field(self, team, field, value):
        body = {"phone": "0987654321", "email": "an@example.com", field: value}
        response = browser(team, "sales").post("/leads/new/?lang=en", body)
        assert response.status_code == 400 and not team.workspace.leads.exists()
        message = {
            "phone": "This is not a valid phone number.",
            "email": "This is not a valid e-mail address.",
        }
        assert message[field] in response.content.decode()

    def test_neither_phone_nor_email_is_refused(self, team):
        response = browser(team, "manager").post("/leads/new/", {"full_name": "Ai đó"})
        assert response.status_code == 400
        html = response.content.decode()
        # the page's help, then under the phone and the e-mail; not once more on top
        assert html.count("Give a phone number or an e-mail address.") == 3
        assert 'class="form-errors"' not in html
        assert not team.workspace.leads.exists()

    @pytest.mark.parametrize("away", [False, True])
    def test_a_lead_a_rep_enters_by_hand_is_theirs_whatever_the_rules(self, team, away):
        capture(team)  # round robin: the next new lead would go to sales2
        team.workspace.members.filter(role="sales").update(away=away)  # away: the queue
        client = browser(team, "sales")
        response = client.post("/leads/new/", {"phone": "0977000111"}, follow=True)
        lead = team.workspace.leads.get(contact__phone_raw="0977000111")
        assert response.redirect_chain[-1][0] == f"/leads/{lead.pk}/"
        assert lead.owner == team.members["sales"]
        page = client.get(f"/leads/{lead.pk}/?lang=en").content.decode()
        assert "Assigned to Sales Một" in page and "· by hand" in page
        assert Timer.objects.get(lead=lead, kind="first_contact").member == team.members["sales"]
        assert not Notification.objects.filter(lead=lead).exists()  # they know: they entered it

    def test_a_rep_s_api_capture_still_tells_them_of_what_the_rules_give_them(self, team):
        api = team.api("sales")
        for phone in ("0977000111", "0977000112"):  # the round robin: one of them is theirs
            assert api.post("/leads", {"phone": phone}).status_code == 201
        theirs = team.workspace.leads.get(owner=team.members["sales"])
        assert Notification.objects.filter(lead=theirs, member=team.members["sales"]).exists()

    def test_a_manager_s_lead_follows_the_rules(self, team):
        capture(team)  # round robin: the next new lead goes to sales2
        browser(team, "manager").post("/leads/new/", {"phone": "0977000111"})
        lead = team.workspace.leads.get(contact__phone_raw="0977000111")
        assert lead.owner == team.members["sales2"]
        assert Notification.objects.filter(lead=lead, member=lead.owner).exists()

    def test_a_rep_whose_entry_joins_a_colleague_s_lead_lands_on_the_list(self, team):
        capture(team, owner="sales2", phone="0977000111")
        response = browser(team, "sales").post("/leads/new/", {"phone": "0977000111"}, follow=True)
        assert response.redirect_chain[-1][0] == "/leads/"
        assert "It is assigned to another member." in response.content.decode()

    def test_a_rep_whose_entry_joins_a_lead_waiting_for_a_rep_takes_it(self, team):
        team.workspace.members.filter(role="sales").update(away=True)  # no one takes a lead now
        waiting = capture(team, phone="0977000111")
        assert waiting.owner is None
        client = browser(team, "sales")
        response = client.post("/leads/new/", {"phone": "0977000111"}, follow=True)
        assert response.redirect_chain[-1][0] == f"/leads/{waiting.pk}/"
        waiting.refresh_from_db()
        assert waiting.owner == team.members["sales"]
        assert Timer.objects.get(lead=waiting, kind="first_contact").member == waiting.owner
        assert not Notification.objects.filter(member=waiting.owner).exists()


class TestALeadGivenToAnotherRep:
    """A rep's page left open, or a notification read late, after a manager moved the lead."""

    @pytest.fixture
    def moved(self, team, lead):
        return lead_assign(
            lead=lead, actor=team.actors["manager"], owner_id=team.members["sales2"].pk
        )

    def test_a_call_on_it_is_not_saved_and_the_rep_is_told_why(self, team, moved):
        client = browser(team, "sales")
        response = client.post(f"/leads/{moved.pk}/call/", {"call-outcome": "no_answer"})
        assert response.status_code == 302 and response["Location"] == "/leads/"
        html = client.get("/leads/").content.decode()
        told = f"Lead #{moved.pk} is no longer yours: it was assigned to another member."
        assert f"{told} What you sent was not saved." in html
        assert not Activity.objects.exists()

    def test_opening_it_tells_the_rep_without_showing_it(self, team, moved):
        client = browser(team, "sales", "vi")
        response = client.get(f"/leads/{moved.pk}/", follow=True)
        html = response.content.decode()
        assert response.redirect_chain == [("/leads/", 302)]
        assert f"Lead #{moved.pk} không còn là của bạn" in html and "Nguyễn Văn An" not in html

    def test_a_rep_who_never_had_it_still_gets_not_found(self, team, moved, other_team):
        client = browser(team, "sales2")
        other = routed_to(team, "sales")
        assert client.post(f"/leads/{other.pk}/stage/", {"stage-stage": "k3"}).status_code == 404
        assert client.get(f"/leads/{other.pk}/").status_code == 404
        assert client.get("/leads/99999999999999999999999/").status_code == 404
        outsider = other_team.browser_client("sales")
        assert outsider.get(f"/leads/{moved.pk}/").status_code == 404

    def test_an_outcome_tapped_in_the_queue_goes_back_to_the_queue(self, team, moved):
        client = browser(team, "sales")
        response = client.post(
            f"/queue/{moved.pk}/call/", {"call-outcome": "busy_callback"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200 and response["HX-Redirect"] == "/queue/"
        assert "no longer yours" in client.get("/queue/").content.decode()
        assert not Activity.objects.exists()
