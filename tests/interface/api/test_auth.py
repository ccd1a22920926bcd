"""Signing in: tokens, sessions, deactivation, throttling, secrecy."""

import logging

import pytest
from knox.crypto import hash_token
from rest_framework.test import APIClient

from accounts.models import ApiToken
from interfaces.throttles import RegistrationThrottle, SignInThrottle
from messaging.models import IdempotentResponse, StoredEvent
from tests.support.factories import AccountFactory

PASSWORD = "correct-horse-battery"


def assert_a_new_token_of(account, answer):
    """The answer names a token of ``account``, stored only as its digest."""
    assert set(answer) == {"token", "id", "expiry"}
    stored = ApiToken.objects.get(id=answer["id"])
    assert stored.user == account and stored.digest == hash_token(answer["token"])
    assert answer["token"] not in {stored.digest, stored.token_key}


def test_a_username_and_password_get_the_accounts_token(alice, anonymous):
    response = anonymous.post("/api/v1/auth/token/", {"username": "ALICE", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert_a_new_token_of(alice, response.data)


@pytest.mark.parametrize(
    "credentials",
    [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": PASSWORD}, {"username": "alice"}],
)
def test_wrong_or_missing_credentials_answer_400(alice, anonymous, credentials):
    response = anonymous.post("/api/v1/auth/token/", credentials, format="json")

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_deactivated_account_gets_no_token(db, anonymous):
    AccountFactory(username="gone", is_active=False)

    response = anonymous.post("/api/v1/auth/token/", {"username": "gone", "password": PASSWORD}, format="json")

    assert response.status_code == 400


def test_the_token_authenticates(alice, anonymous):
    token = anonymous.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")

    response = anonymous.get("/api/v1/accounts/me/", HTTP_AUTHORIZATION=f"Token {token.data['token']}")

    assert response.data["username"] == "alice"


@pytest.mark.parametrize("body_format", ["json", "multipart"])
def test_the_token_endpoint_takes_json_and_multipart_forms(alice, anonymous, body_format):
    # when
    response = anonymous.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format=body_format)

    # then
    assert response.status_code == 200
    assert_a_new_token_of(alice, response.data)


def test_the_token_endpoint_takes_a_url_encoded_form(alice, anonymous):
    # when
    response = anonymous.post(
        "/api/v1/auth/token/",
        f"username=alice&password={PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )

    # then
    assert response.status_code == 200
    assert_a_new_token_of(alice, response.data)


def test_the_token_authenticates_as_a_bearer_token(alice, anonymous):
    # given
    token = anonymous.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")

    # when
    response = anonymous.get("/api/v1/accounts/me/", HTTP_AUTHORIZATION=f"Bearer {token.data['token']}")

    # then
    assert response.status_code == 200
    assert response.data["username"] == "alice"


def test_an_unknown_bearer_token_answers_401(db, anonymous):
    # when
    response = anonymous.get("/api/v1/accounts/me/", HTTP_AUTHORIZATION="Bearer nonsense")

    # then
    assert response.status_code == 401
    assert response.data["code"] == "authentication_failed"


def test_a_browser_gets_a_sign_in_form_from_the_token_endpoint(db, anonymous):
    # when
    response = anonymous.get("/api/v1/auth/token/", HTTP_ACCEPT="text/html")

    # then
    assert response.status_code == 405
    assert response["Content-Type"].startswith("text/html")
    assert 'name="username"' in response.content.decode()
    assert 'name="password"' in response.content.decode()


def test_without_credentials_the_api_answers_401_with_the_token_challenge(db, anonymous):
    response = anonymous.get("/api/v1/accounts/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.data["code"] == "not_authenticated"


def test_an_unknown_token_answers_401(db, anonymous):
    response = anonymous.get("/api/v1/accounts/me/", HTTP_AUTHORIZATION="Token nonsense")

    assert (response.status_code, response.data["code"]) == (401, "authentication_failed")


def test_after_deactivation_the_token_no_longer_authenticates(alice, signed_in):
    client = signed_in(alice)

    client.post("/api/v1/accounts/me/deactivate/")
    response = client.get("/api/v1/accounts/me/")

    assert response.status_code == 401


def test_after_deactivation_the_session_no_longer_authenticates(alice):
    client = APIClient()
    client.force_login(alice)
    assert client.get("/api/v1/accounts/me/").status_code == 200

    client.post("/api/v1/accounts/me/deactivate/")
    response = client.get("/api/v1/accounts/me/")

    assert response.status_code == 401


def test_signing_in_too_often_answers_429(alice, anonymous, monkeypatch):
    monkeypatch.setitem(SignInThrottle.THROTTLE_RATES, "auth", "2/min")
    credentials = {"username": "alice", "password": "wrong"}

    statuses = [anonymous.post("/api/v1/auth/token/", credentials, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]


def test_registering_too_often_answers_429_with_retry_after(db, anonymous, monkeypatch):
    monkeypatch.setitem(RegistrationThrottle.THROTTLE_RATES, "registration", "1/hour")
    anonymous.post("/api/v1/accounts/", {}, format="json")

    response = anonymous.post("/api/v1/accounts/", {}, format="json")

    assert (response.status_code, response.data["code"]) == (429, "throttled")
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    "proxies, forwarded_for",
    [(0, ["10.0.0.1", "10.0.0.2"]), (1, ["10.0.0.1, 203.0.113.7", "10.0.0.2, 203.0.113.7"])],
    ids=["no proxy", "one proxy"],
)
def test_a_forged_forwarded_for_does_not_escape_the_registration_throttle(
    db, settings, monkeypatch, proxies, forwarded_for
):
    # given: one client, forging a new X-Forwarded-For each time (behind a proxy, it appends the real one)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    monkeypatch.setitem(RegistrationThrottle.THROTTLE_RATES, "registration", "1/hour")
    client = APIClient(REMOTE_ADDR="203.0.113.7" if proxies == 0 else "127.0.0.1")

    # when
    first, second = [
        client.post("/api/v1/accounts/", {}, format="json", HTTP_X_FORWARDED_FOR=forged) for forged in forwarded_for
    ]

    # then
    assert (first.status_code, second.status_code) == (400, 429)


def test_passwords_and_tokens_never_reach_the_event_store_the_stored_answers_or_the_logs(db, anonymous, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    password = "a-very-secret-passphrase"

    # when
    anonymous.post(
        "/api/v1/accounts/",
        {"email": "dora@example.com", "username": "dora", "password": password},
        format="json",
        HTTP_IDEMPOTENCY_KEY="register-dora",
    )
    token = anonymous.post("/api/v1/auth/token/", {"username": "dora", "password": password}, format="json")
    APIClient().get("/api/v1/accounts/me/", HTTP_AUTHORIZATION=f"Token {token.data['token']}")

    # then
    secrets = (password, token.data["token"])
    stored = [str(row.payload) for row in StoredEvent.objects.all()]
    stored += [row.body + row.request_fingerprint for row in IdempotentResponse.objects.all()]
    assert stored
    assert not [text for text in stored + [caplog.text] if any(secret in text for secret in secrets)]
