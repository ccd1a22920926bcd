"""Failed sign-ins are limited on every way in: the login page, the admin's, the API's token.

Per (username, client address) and per client address, never per username
alone; the address is found as the API's throttles find it, so a forged
X-Forwarded-For changes nothing.
"""

import time

import pytest
from django.test import Client

from tests.support.factories import AccountFactory

PASSWORD = "correct-horse-battery"
GUESSER, OWNER = "203.0.113.7", "198.51.100.20"


def page(path):
    def sign_in(username, password, **headers):
        return Client().post(path, {"username": username, "password": password}, **headers)

    return sign_in


def api(username, password, **headers):
    body = {"username": username, "password": password}
    return Client().post("/api/v1/auth/token/", body, content_type="application/json", **headers)


WAYS_IN = [
    pytest.param(page("/login/"), id="login page"),
    pytest.param(page("/admin/login/"), id="admin login"),
    pytest.param(api, id="API token"),
]


@pytest.fixture
def alice(db):
    return AccountFactory(username="alice", is_staff=True)  # staff, so the admin login would let her in


@pytest.fixture
def limits(settings):
    settings.SIGN_IN_FAILURES_PER_USERNAME = 3
    settings.SIGN_IN_FAILURES_PER_ADDRESS = 5
    settings.SIGN_IN_COOL_OFF_SECONDS = 900
    return settings


@pytest.fixture
def one_proxy(settings):
    """API_NUM_PROXIES=1: the TLS proxy's X-Forwarded-For names the client."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def assert_locked_out(response):
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    if response["Content-Type"].startswith("application/json"):
        assert response.json()["code"] == "too_many_failed_sign_ins"
        assert "Try again in 15 minute(s)" in response.json()["detail"]
    else:
        assert "Too many failed sign-ins from your address. Try again in 15 minute(s)." in response.text


def assert_signed_in(response):
    assert response.status_code in (200, 302), response.content[:300]
    if response.status_code == 200:  # the API answers the token
        assert "token" in response.json()


@pytest.mark.parametrize("sign_in", WAYS_IN)
def test_a_guesser_is_stopped_at_the_limit_even_with_the_right_password(alice, limits, sign_in):
    # given
    answers = [sign_in("alice", f"guess-{n}", REMOTE_ADDR=GUESSER) for n in range(2)]

    # when
    reaching = sign_in("alice", "guess-3", REMOTE_ADDR=GUESSER)
    right = sign_in("alice", PASSWORD, REMOTE_ADDR=GUESSER)

    # then
    assert [answer.status_code for answer in answers] in ([200, 200], [400, 400])
    assert_locked_out(reaching)
    assert_locked_out(right)


@pytest.mark.parametrize("sign_in", WAYS_IN)
def test_nobody_can_lock_the_owner_out_from_elsewhere(alice, limits, sign_in):
    for n in range(6):
        sign_in("alice", f"guess-{n}", REMOTE_ADDR=GUESSER)

    assert_signed_in(sign_in("alice", PASSWORD, REMOTE_ADDR=OWNER))


@pytest.mark.parametrize("sign_in", WAYS_IN)
def test_guessing_many_usernames_from_one_address_is_stopped_too(db, limits, sign_in):
    for n in range(4):
        sign_in(f"someone_{n}", "guess", REMOTE_ADDR=GUESSER)

    assert_locked_out(sign_in("someone_else", "guess", REMOTE_ADDR=GUESSER))


@pytest.mark.parametrize("sign_in", WAYS_IN)
def test_with_no_proxy_a_forged_forwarded_for_changes_nothing(alice, limits, sign_in):
    for n in range(2):
        sign_in("alice", "guess", REMOTE_ADDR=GUESSER, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = sign_in("alice", "guess", REMOTE_ADDR=GUESSER, HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert_locked_out(response)


@pytest.mark.parametrize("sign_in", WAYS_IN)
def test_behind_one_proxy_the_address_it_saw_is_counted_not_what_the_client_forged(alice, limits, one_proxy, sign_in):
    # given: the proxy (on loopback) appended the address it saw to whatever the client sent
    for n in range(2):
        sign_in("alice", "guess", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, {GUESSER}")

    # when
    response = sign_in("alice", "guess", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {GUESSER}")
    owner = sign_in("alice", PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OWNER)

    # then
    assert_locked_out(response)
    assert_signed_in(owner)


def test_after_the_cool_off_the_address_may_try_again(alice, limits):
    limits.SIGN_IN_COOL_OFF_SECONDS = 1
    for _ in range(3):
        api("alice", "guess", REMOTE_ADDR=GUESSER)
    assert api("alice", PASSWORD, REMOTE_ADDR=GUESSER).status_code == 429

    time.sleep(1.1)

    assert_signed_in(api("alice", PASSWORD, REMOTE_ADDR=GUESSER))


def test_the_defaults_allow_five_failures_per_username_and_address(alice):
    statuses = [api("alice", "guess", REMOTE_ADDR=GUESSER).status_code for _ in range(6)]

    assert statuses == [400, 400, 400, 400, 429, 429]


def forget_page(client):
    key = client.get("/account/forget/").context["form"]["idempotency_key"].value()

    def guess(password):
        return client.post("/account/forget/", {"password": password, "idempotency_key": key}, REMOTE_ADDR=GUESSER)

    return guess


def forget_api(client):
    def guess(password):
        return client.post(
            "/api/v1/accounts/me/forget/", {"password": password}, content_type="application/json", REMOTE_ADDR=GUESSER
        )

    return guess


def admin_password_change(client):
    def guess(password):
        body = {
            "old_password": password,
            "new_password1": "a new long secret 42",
            "new_password2": "a new long secret 42",
        }
        return client.post("/admin/password_change/", body, REMOTE_ADDR=GUESSER)

    return guess


def site_password_change(client):
    def guess(password):
        body = {
            "old_password": password,
            "new_password1": "a new long secret 42",
            "new_password2": "a new long secret 42",
        }
        return client.post("/account/password/", body, REMOTE_ADDR=GUESSER)

    return guess


PASSWORD_AGAIN = [
    pytest.param(forget_page, id="forget me page"),
    pytest.param(forget_api, id="forget me API"),
    pytest.param(admin_password_change, id="admin password change"),
    pytest.param(site_password_change, id="password change page"),
]


@pytest.mark.parametrize("way", PASSWORD_AGAIN)
def test_a_stolen_session_guessing_the_password_again_is_stopped_at_the_limit(alice, limits, way):
    # given someone holding Alice's session, who does not know her password
    client = Client()
    client.force_login(alice)
    guess = way(client)
    for n in range(2):
        assert guess(f"guess-{n}").status_code in (200, 302, 400)

    # when they reach the limit, then try her password
    reaching = guess("guess-3")
    right = guess(PASSWORD)

    # then both are refused, and her account is still there with its password
    assert_locked_out(reaching)
    assert_locked_out(right)
    alice.refresh_from_db()
    assert alice.is_active and alice.check_password(PASSWORD)


def test_the_admin_changes_a_password_through_the_bus_and_keeps_its_session(alice, limits):
    client = Client()
    client.force_login(alice)

    answer = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "a new long secret 42", "new_password2": "a new long secret 42"},
    )

    assert answer.status_code == 302 and answer["Location"] == "/admin/password_change/done/"
    alice.refresh_from_db()
    assert alice.check_password("a new long secret 42")
    assert client.get("/admin/").status_code == 200
