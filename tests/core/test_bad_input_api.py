"""Bad input on every API endpoint: always a 4xx JSON answer with the error shape, never a 5xx."""

import json

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from leadloop.pipeline.models import Lead
from tests.core.support import assert_error, capture, phone

POSTS = [
    "/leads",
    "/leads/bulk",
    "/leads/{lead}/stage",
    "/leads/{lead}/assign",
    "/leads/{lead}/activities",
    "/members",
    "/campaigns",
    "/channels",
]
MALFORMED = [
    "{",
    "{bad json}",
    "nul",
    "[1, 2",
    '"unterminated',
    '{"a": 1,}',
    "\x00",
    "{}}",
]
NOT_OBJECTS = ["[]", "[{}]", "1", "-3.5", '"text"', "null", "true"]
WRONG_TYPES = {
    "/leads": [
        {"phone": 912345678},
        {"phone": ["0912345678"]},
        {"email": {"a": 1}},
        {"phone": "0912345678", "fields": []},
        {"phone": "0912345678", "fields": "x"},
        {"phone": "0912345678", "full_name": None},
        {"phone": True},
    ],
    "/leads/bulk": [{"leads": None}, {"leads": 1}, {"leads": "abc"}],
    "/leads/{lead}/stage": [
        {"stage": 3},
        {"stage": None},
        {},
        {"stage": ["k3"]},
        {"stage": "k3", "reason": 5},
    ],
    "/leads/{lead}/assign": [
        {"owner_id": "abc"},
        {"owner_id": None},
        {},
        {"owner_id": 1.5},
        {"owner_id": [1]},
        {"owner_id": 10**30},
    ],
    "/leads/{lead}/activities": [
        {"kind": "fax"},
        {"kind": 1},
        {},
        {"kind": "call", "duration_s": "long"},
        {"kind": "call", "duration_s": -1},
        {"kind": "call", "duration_s": 10**20},
        {"kind": "call", "duration_s": True},
    ],
    "/members": [
        {"email": 1, "full_name": "x", "role": "sales"},
        {"email": "a@b.vn", "full_name": "x", "role": "boss"},
        {"email": "a@b.vn", "full_name": "x", "role": "sales", "capacity": -1},
        {"email": "a@b.vn", "full_name": "x", "role": "sales", "active": "maybe"},
        {"email": "a@b.vn", "role": "sales"},
    ],
    "/campaigns": [
        {"name": 5},
        {},
        {"name": "x", "budget": "many"},
        {"name": "x", "budget": -1},
        {"name": "x", "starts_on": "2026-02-30"},
        {"name": "x", "budget": 1.5},
        {"name": "x", "starts_on": "0001-01-01"},
        {"name": "x", "starts_on": "2027-03-01", "ends_on": "2027-02-01"},
    ],
    "/channels": [
        {"kind": "fax", "name": "x"},
        {"kind": "form"},
        {"kind": "form", "name": 1},
        {"kind": "form", "name": "x", "settings": "a"},
        {"kind": "form", "name": "x", "settings": {"allowed_origins": {"a": 1}}},
        {"kind": "form", "name": "x", "settings": {"nested": {"deep": {"x": 1}}}},
    ],
}
VALID = {
    "/leads": {"phone": "0912000001"},
    "/leads/bulk": {"leads": [{"phone": "0912000002"}]},
    "/leads/{lead}/stage": {"stage": "k3"},
    "/leads/{lead}/assign": {"owner_id": 0},  # replaced by a real member id
    "/leads/{lead}/activities": {"kind": "note"},
    "/members": {"email": "m@acme.test", "full_name": "Thành Viên", "role": "sales"},
    "/campaigns": {"name": "Chiến dịch"},
    "/channels": {"kind": "form", "name": "Form"},
}


@pytest.fixture
def api(team):
    return team.api("admin")


@pytest.fixture
def lead(team):
    return capture(team, full_name="Khách", phone=phone(1)).lead


def _path(template: str, lead) -> str:
    return template.format(lead=lead.pk)


@pytest.mark.parametrize("template", POSTS)
@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_json_is_a_400_json(api, lead, template, raw):
    assert_error(api.post(_path(template, lead), raw=raw), 400, "malformed_json")


@pytest.mark.parametrize("template", POSTS)
@pytest.mark.parametrize("raw", NOT_OBJECTS)
def test_json_that_is_not_an_object_is_a_422(api, lead, template, raw):
    assert_error(api.post(_path(template, lead), raw=raw), 422, "validation_error")


@pytest.mark.parametrize(
    ("template", "body"), [(t, b) for t, bodies in WRONG_TYPES.items() for b in bodies]
)
def test_wrong_types_are_a_422_naming_the_field(api, lead, template, body):
    error = assert_error(api.post(_path(template, lead), body), 422)
    assert error["fields"], error


@pytest.mark.parametrize(
    ("template", "body", "field"),
    [
        ("/leads", {"phone": "0912000009", "fields": {"x": [1]}}, "fields.x"),
        (
            "/channels",
            {"kind": "form", "name": "F", "settings": {"rate_limit": 1.5}},
            "settings.rate_limit",
        ),
    ],
)
def test_a_value_of_no_allowed_type_is_named_by_its_field_not_by_types(api, template, body, field):
    """Not "fields.x.constrained-str", "fields.x.int"…: the client's field, each message once."""
    error = assert_error(api.post(template, body), 422)
    assert list(error["fields"]) == [field]
    messages = error["fields"][field]
    assert len(messages) == len(set(messages)) >= 1


@pytest.mark.parametrize("template", POSTS)
def test_unknown_fields_are_a_422(api, lead, template):
    body = dict(VALID[template], surprise="!")
    error = assert_error(api.post(_path(template, lead), body), 422)
    assert "surprise" in json.dumps(error["fields"])


@pytest.mark.parametrize("template", POSTS)
def test_huge_strings_are_a_4xx(api, lead, template):
    huge = "x" * (1024 * 1024)
    body = {
        key: huge if isinstance(value, str) else value for key, value in VALID[template].items()
    }
    body = body if body != VALID[template] else dict(body, reason=huge)
    if template == "/leads/bulk":
        body = {"leads": [{"full_name": huge, "phone": "0912000003"}]}
        response = api.post(template, body)
        assert response.status_code == 200
        assert response.json()["results"][0]["status"] == 422
        return
    assert_error(api.post(_path(template, lead), body))


@pytest.mark.parametrize("template", POSTS)
def test_a_body_over_the_upload_limit_is_a_413_json(api, lead, template):
    raw = json.dumps({"note": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    assert_error(api.post(_path(template, lead), raw=raw), 413, "payload_too_large")
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "0912000004", "fields": {"a": {"nested": 1}}},
        {"phone": "0912000004", "fields": {"a": [1, 2]}},
        {"phone": "0912000004", "fields": {f"k{i}": "v" for i in range(101)}},
        {"phone": "0912000004", "fields": {"k" * 101: "v"}},
        {"phone": "0912000004", "fields": {"k": "v" * 2001}},
        {"phone": "0" * 65},
        {"email": "a" * 250 + "@x.vn"},
    ],
)
def test_lead_fields_are_flat_and_bounded(api, body):
    assert_error(api.post("/leads", body), 422)
    assert not Lead.objects.exists()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_has_not_are_a_422_on_every_database(api, number):
    raw = '{"phone": "0912000006", "fields": {"area": NUMBER}}'.replace("NUMBER", number)
    error = assert_error(api.post("/leads", raw=raw), 422)
    assert "fields" in json.dumps(error["fields"])
    assert not Lead.objects.exists()


def test_fields_accept_strings_numbers_booleans_and_null(api):
    fields = {"budget": "2 tỷ", "rooms": 3, "area": 72.5, "loan": False, "floor": None}
    response = api.post("/leads", {"phone": "0912000005", "fields": fields})
    assert response.status_code == 201
    assert Lead.objects.get(pk=response.json()["id"]).fields == fields


@pytest.mark.parametrize(
    "template", ["/leads/{x}", "/leads/{x}/stage", "/leads/{x}/assign", "/leads/{x}/activities"]
)
@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-1", "0x10", "99999999999999999999999", "%20"])
def test_non_numeric_or_absurd_ids_in_the_path_are_4xx_json(api, template, bad_id):
    path = template.format(x=bad_id)
    response = api.get(path) if path.count("/") == 2 else api.post(path, {"stage": "k3"})
    assert_error(response)


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "2026-13-01"},
        {"created_to": "yesterday"},
        {"created_from": "2026-02-30"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "x"},
        {"page_size": "100000"},
        {"page_size": "0"},
        {"page": "10000000000"},
        {"open": "perhaps"},
        {"q": "x" * 201},
        {"created_from": "2026-12-31", "created_to": "2026-01-01"},
        {"sla_from": "2026-12-31", "sla_to": "2026-01-01"},
        {"owner": "abc"},
        {"owner": "9" * 19},
        {"sla_member": "abc"},
        {"sla_team": "-1"},
    ],
)
def test_bad_list_queries_are_422(api, params):
    """A filter that cannot mean anything is refused, not answered with an empty list."""
    error = assert_error(api.get("/leads", **params), 422)
    assert error["fields"], error


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/reports/stages", {"from": "2026-01-32"}),
        ("/reports/stages", {"to": "abc"}),
        ("/reports/stages", {"by": "year"}),
        ("/reports/stages", {"from": "2026-03-01", "to": "2026-02-01"}),
        ("/reports/stages", {"from": "2000-01-01", "to": "2026-01-01"}),
        ("/reports/funnel", {"from": "not-a-date"}),
        ("/reports/funnel", {"from": "2026-03-01", "to": "2026-02-01"}),
        ("/stages", {"archived": "sometimes"}),
    ],
)
def test_bad_report_and_stage_queries_are_422(api, path, params):
    assert_error(api.get(path, **params), 422)


NUL_REFUSED = "NUL (\\u0000)"  # in the message in either language


def _nul_fields(response) -> dict:
    """The fields a 422 names for their NUL character, on either database."""
    error = assert_error(response, 422)
    return {name for name, messages in error["fields"].items() if NUL_REFUSED in messages[0]}


@pytest.mark.parametrize("template", POSTS)
def test_nul_characters_are_refused_on_their_field_on_either_database(api, lead, template):
    body = {
        key: f"a\x00{value}" if isinstance(value, str) else value
        for key, value in VALID[template].items()
    }
    if template == "/leads/bulk":
        body = {"leads": [{"phone": "0912000006", "full_name": "a\x00b"}]}
        response = api.post(_path(template, lead), body)
        assert response.status_code == 200, response.content
        [result] = response.json()["results"]
        assert result["status"] == 422 and "full_name" in result["error"]["fields"]
        return
    if template == "/leads/{lead}/assign":
        body = {"owner_id": 1, "reason": "a\x00b"}
    texts = {key for key, value in body.items() if isinstance(value, str)}
    assert _nul_fields(api.post(_path(template, lead), body)) == texts


def test_a_bulk_item_with_nul_fails_alone(api):
    items = [
        {"phone": "0912000010"},
        {"phone": "0912000011", "fields": {"a": "b\x00"}},
        {"phone": "0912000012"},
    ]
    response = api.post("/leads/bulk", {"leads": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert NUL_REFUSED in results[1]["error"]["fields"]["fields"][0]
    assert Lead.objects.count() == 2


def nested(depth: int) -> object:
    deep: object = "x"
    for _level in range(depth):
        deep = [deep]
    return deep


def test_json_nested_hundreds_deep_in_a_lead_is_a_422_and_fails_alone_in_a_bulk(api):
    deep = nested(400)  # parsed, then refused by the types (not by a recursion in the check)
    assert_error(api.post("/leads", {"phone": "0912000020", "fields": {"a": deep}}), 422)
    items = [{"phone": "0912000021"}, {"phone": "0912000022", "fields": {"a": deep}}]
    response = api.post("/leads/bulk", {"leads": items})
    assert response.status_code == 200, response.content[:300]
    assert [r["status"] for r in response.json()["results"]] == [201, 422]
    deeper = '{"phone": "0912000023", "fields": {"a": ' + "[" * 5000 + '"x"' + "]" * 5000 + "}}"
    assert_error(api.post("/leads", raw=deeper))  # too deep to read: a 4xx all the same


def test_nul_in_fields_and_in_the_search_is_refused_on_its_field(api):
    response = api.post("/leads", {"phone": "0912000007", "fields": {"a\x00": "b"}})
    assert _nul_fields(response) == {"fields"} and not Lead.objects.exists()
    assert _nul_fields(api.get("/leads", q="an\x00")) == {"q"}


# ------------------------------------------------------------------ property-based

KEYS = [
    "full_name",
    "phone",
    "email",
    "source",
    "campaign",
    "external_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "note",
    "fields",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["0912345678", "+84 912 345 678", "an@example.com", "", " ", "0162345678"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
lead_like = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), json_values, max_size=8)
bodies = lead_like | json_values


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_random_json_bodies_never_make_a_5xx(api, body):
    response = api.post("/leads", raw=json.dumps(body))
    assert response.status_code < 500, (body, response.content)
    if response.status_code in (200, 201):
        answer = response.json()
        assert answer["created"] is (response.status_code == 201)
        assert Lead.objects.filter(pk=answer["id"]).exists()
    else:
        assert_error(response)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.binary(max_size=60))
def test_random_bytes_never_make_a_5xx(api, raw):
    response = api.post("/leads", raw=raw)
    assert response.status_code < 500, (raw, response.content)


def test_error_messages_speak_the_clients_language_vietnamese_by_default(team):
    api = team.api("admin")
    assert assert_error(api.get("/leads/987654321"), 404)["message"] == "Không tìm thấy lead."
    english = api.client.get("/api/v1/leads/987654321", headers={"Accept-Language": "en"})
    assert assert_error(english, 404)["message"] == "Lead not found."
    backwards = assert_error(
        api.get("/reports/stages", **{"from": "2026-03-02", "to": "2026-03-01"})
    )
    # a message, not a value
    assert backwards["fields"] == {"to": ["Ngày kết thúc ở trước ngày bắt đầu."]}
    unknown = assert_error(api.get("/no-such-thing"), 404)  # shaped by the middleware
    assert unknown["message"] == "Không tìm thấy."
    breach = assert_error(api.get("/reports/sla/breaches", **{"from": "0001-01-01"}), 422)
    assert list(breach["fields"]) == ["from"]  # the parameter sent, not the filter behind it


HUGE = 2**63  # one past the largest id the databases hold


@pytest.mark.parametrize(
    ("template", "body"),
    [
        ("/contacts/{contact}/merge", {"into": HUGE, "dry_run": True}),
        ("/contacts/{contact}/merge", {"into": 1, "fields": {"phone": HUGE}}),
        ("/routing/rules", {"name": "r", "team_id": HUGE}),
        ("/routing/rules", {"name": "r", "member_ids": [HUGE]}),
        ("/routing/rules/reorder", {"ids": [HUGE]}),
        ("/routing/preview", {"channel_id": HUGE}),
    ],
)
def test_ids_past_the_databases_integers_in_a_body_are_a_4xx(api, lead, template, body):
    response = api.post(template.format(contact=lead.contact_id), body)
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()["error"]) >= {"code", "message", "fields"}
