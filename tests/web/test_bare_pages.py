"""Pages for visitors without a session: the website form's thank-you page and the 404."""

from django.test import Client

from leadloop.intake.services import channel_create


def test_the_website_form_thanks_in_vietnamese_by_default(team):
    channel = channel_create(
        workspace=team.workspace,
        actor=team.actors["admin"],
        kind="form",
        name="Website",
        settings={},
    )
    response = Client().post(f"/hooks/acme/forms/{channel.key}", {"phone": "0912345678"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cảm ơn bạn!" in html
    assert "/static/web/app.css" in html
    assert 'class="languages"' in html


def test_an_unknown_page_is_a_404_page(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/no-such-page/")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()


def test_pages_name_their_icon_so_browsers_ask_for_no_missing_favicon(client):
    html = client.get("/login/").content.decode()
    icon = html.split('<link rel="icon" href="')[1].split('"')[0]
    answer = client.get(icon)
    assert answer.status_code == 200
    assert b"<svg" in b"".join(answer.streaming_content)
