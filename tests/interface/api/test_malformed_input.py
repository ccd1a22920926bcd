"""No request a client can send gets a 500: malformed input answers 4xx."""

import pytest

from accounts.models import Account

REGISTER = "/api/v1/accounts/"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"email": "a@b.c", ', b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b"null"],
)
def test_a_body_that_is_not_a_json_object_answers_400(db, anonymous, body):
    response = anonymous.post(REGISTER, body, content_type="application/json")

    assert response.status_code == 400
    assert not Account.objects.exists()


def test_bad_json_answers_the_error_shape(db, anonymous):
    response = anonymous.post(REGISTER, b"{oops", content_type="application/json")

    assert (response.status_code, response.data["code"]) == (400, "parse_error")


def test_invalid_fields_answer_the_one_error_shape_naming_each_field(db, anonymous):
    # when
    response = anonymous.post(REGISTER, {"email": "not-an-email", "username": "carol"}, format="json")

    # then
    assert (response.status_code, response.data["code"], response.data["detail"]) == (400, "invalid", "Invalid fields.")
    assert set(response.data["fields"]) == {"email", "password"}
    assert set(response.data) == {"code", "detail", "fields"}


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        ("/api/v1/auth/token/", {"username": "nobody", "password": "wrong"}, "Unable to log in"),
        (REGISTER, [], "Expected a dictionary"),
    ],
)
def test_an_error_about_the_whole_input_is_said_in_detail_without_fields(db, anonymous, path, body, said):
    # when
    response = anonymous.post(path, body, format="json")

    # then
    assert (response.status_code, response.data["code"]) == (400, "invalid")
    assert said in response.data["detail"]
    assert set(response.data) == {"code", "detail"}


def test_a_body_that_is_not_json_answers_415(db, anonymous):
    response = anonymous.post(REGISTER, {"username": "carol"})  # multipart form

    assert (response.status_code, response.data["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "fields",
    [
        {"email": None, "username": None, "password": None},
        {"email": {"a": 1}, "username": 10**40, "password": True},
        {"email": "a@b.c", "username": "carol\x00", "password": "correct-horse-battery"},
        {"email": "a@b.c", "username": "carol", "password": "x" * 10_000},
        [],
        "text",
    ],
)
def test_wrong_types_answer_400(db, anonymous, fields):
    response = anonymous.post(REGISTER, fields, format="json")

    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/accounts/not-a-uuid/",
        "/api/v1/accounts/123/follow/",
        "/api/v1/accounts/00000000-0000-0000-0000-00000000000g/relationship/",
    ],
)
def test_an_invalid_uuid_in_the_path_answers_404(alice, signed_in, path):
    client = signed_in(alice)

    response = client.post(path) if path.endswith("follow/") else client.get(path)

    assert (response.status_code, response.json()) == (404, {"code": "not_found", "detail": "Not found."})


@pytest.mark.parametrize("path", ["/api/v1/nowhere/", "/api/v2/accounts/", "/api/v1/books/not-a-uuid/restock/"])
def test_an_unknown_api_path_answers_404_in_the_error_shape(db, anonymous, path):
    response = anonymous.get(path)

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/auth/token/"])
def test_a_body_over_the_size_limit_answers_413_in_the_error_shape(db, anonymous, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"username": "' + b"a" * 2000 + b'"}'

    response = anonymous.post(path, body, content_type="application/json")

    assert (response.status_code, response["Content-Type"]) == (413, "application/json")
    assert response.json() == {"code": "request_too_large", "detail": "The request body is larger than 1000 bytes."}
    assert not Account.objects.exists()


def test_pages_keep_their_own_not_found_page(db, client):
    response = client.get("/nowhere/")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    [
        {"page": 10**30},
        {"page": "abc"},
        {"page": -1},
        {"page": 0},
    ],
)
def test_an_absurd_page_answers_404(alice, signed_in, query):
    response = signed_in(alice).get("/api/v1/accounts/", query)

    assert (response.status_code, response.data["code"]) == (404, "not_found")


@pytest.mark.parametrize("query", [{"page_size": "abc"}, {"page_size": -5}, {"page_size": 10**30}])
def test_an_absurd_page_size_falls_back_to_a_bounded_one(alice, signed_in, query):
    response = signed_in(alice).get("/api/v1/accounts/", query)

    assert response.status_code == 200


@pytest.mark.parametrize("search", ["\x00", "x" * 31])
def test_an_impossible_search_answers_400(alice, signed_in, search):
    response = signed_in(alice).get("/api/v1/accounts/", {"search": search})

    assert response.status_code == 400
    assert "search" in response.data["fields"]


@pytest.mark.parametrize("query", [{"correlation_id": "nope"}, {"type": "\x00"}, {"type": "x" * 101}])
def test_an_invalid_event_filter_answers_400(staff, signed_in, query):
    response = signed_in(staff).get("/api/v1/events/", query)

    assert response.status_code == 400


@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", "/api/v1/accounts/{me}/"),
        ("put", "/api/v1/accounts/me/"),
        ("get", "/api/v1/auth/token/"),
        ("patch", "/api/v1/orders/"),
    ],
)
def test_a_wrong_method_answers_405_in_the_error_shape(alice, signed_in, method, path):
    response = getattr(signed_in(alice), method)(path.format(me=alice.pk))

    assert (response.status_code, response["Content-Type"]) == (405, "application/json")
    assert set(response.json()) == {"code", "detail"} and response.json()["code"] == "method_not_allowed"
