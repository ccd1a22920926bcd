"""API tokens a person controls: hashed, one per sign-in, expiring, listed,
revocable one by one or all at once, and all ended by a password change or
reset, a deactivation and a forget."""

import datetime

import pytest
from django.utils import timezone
from knox.crypto import hash_token
from rest_framework.test import APIClient

from accounts import tokens
from accounts.commands import ChangePassword, DeactivateAccount, ForgetAccount
from accounts.models import ApiToken
from accounts.values import Password
from messaging import bus

PASSWORD = "correct-horse-battery"


def sign_in(username="alice", password=PASSWORD):
    answer = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def with_token(token: str, scheme="Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client


def authenticates(token: str) -> bool:
    return with_token(token).get("/api/v1/accounts/me/").status_code == 200


def test_each_sign_in_issues_its_own_token_stored_only_as_a_digest(alice):
    # when Alice signs in from two devices
    laptop, phone = sign_in(), sign_in()

    # then each has its own token, both work, and none is stored in clear
    assert laptop["token"] != phone["token"]
    assert authenticates(laptop["token"]) and authenticates(phone["token"])
    for answer in (laptop, phone):
        row = ApiToken.objects.get(id=answer["id"])
        assert row.digest == hash_token(answer["token"])
        assert answer["token"] not in str(list(ApiToken.objects.values()))


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_a_token_authenticates_in_either_scheme(alice, scheme):
    token = sign_in()["token"]

    assert with_token(token, scheme).get("/api/v1/accounts/me/").json()["username"] == "alice"


def test_a_token_expires_after_the_configured_time(alice, settings):
    # given tokens that live a day
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": datetime.timedelta(days=1)}
    answer = sign_in()
    issued = timezone.now()
    assert abs(datetime.datetime.fromisoformat(answer["expiry"]) - (issued + datetime.timedelta(days=1))).seconds < 60

    # when the day has passed
    ApiToken.objects.filter(id=answer["id"]).update(expiry=timezone.now() - datetime.timedelta(seconds=1))

    # then it authenticates nobody, and is no longer listed
    assert with_token(answer["token"]).get("/api/v1/accounts/me/").status_code == 401
    assert [token.id for token in tokens.live(alice.pk)] == []


def test_a_person_lists_their_own_tokens_and_sees_which_is_this_one(alice, bob):
    first, second = sign_in(), sign_in()
    sign_in("bob")

    listed = with_token(second["token"]).get("/api/v1/auth/tokens/").json()

    assert [token["id"] for token in listed] == [second["id"], first["id"]]
    assert [token["current"] for token in listed] == [True, False]
    assert all(set(token) == {"id", "created", "expiry", "current"} for token in listed)


def test_revoking_one_token_ends_it_alone(alice):
    lost, kept = sign_in(), sign_in()

    answer = with_token(kept["token"]).delete(f"/api/v1/auth/tokens/{lost['id']}/")

    assert answer.status_code == 204
    assert not authenticates(lost["token"]) and authenticates(kept["token"])


def test_nobody_revokes_another_persons_token(alice, bob):
    alices = sign_in()

    answer = with_token(sign_in("bob")["token"]).delete(f"/api/v1/auth/tokens/{alices['id']}/")

    assert answer.status_code == 404
    assert authenticates(alices["token"])


def test_signing_out_everywhere_ends_every_token_of_the_person_only(alice, bob):
    laptop, phone, bobs = sign_in(), sign_in(), sign_in("bob")

    answer = with_token(laptop["token"]).delete("/api/v1/auth/tokens/")

    assert answer.status_code == 204
    assert not authenticates(laptop["token"]) and not authenticates(phone["token"])
    assert authenticates(bobs["token"])


def test_tokens_need_a_signed_in_caller(db):
    assert APIClient().get("/api/v1/auth/tokens/").status_code == 401
    assert APIClient().delete("/api/v1/auth/tokens/").status_code == 401


def test_past_the_cap_a_new_token_ends_the_oldest(alice, settings):
    settings.API_TOKENS_PER_ACCOUNT = 2
    oldest, middle = sign_in(), sign_in()

    newest = sign_in()

    assert not authenticates(oldest["token"])
    assert authenticates(middle["token"]) and authenticates(newest["token"])


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            lambda account: ChangePassword(account_id=account.pk, password=Password("a-new-long-one-42")),
            id="password change",
        ),
        pytest.param(lambda account: DeactivateAccount(account_id=account.pk), id="deactivation"),
        pytest.param(lambda account: ForgetAccount(account_id=account.pk), id="forget"),
    ],
)
def test_a_password_change_deactivation_or_forget_ends_every_token(alice, bob, command):
    # given Alice signed in on two devices, and Bob on one
    laptop, phone, bobs = sign_in(), sign_in(), sign_in("bob")

    # when
    assert not bus.dispatch(command(alice)).rejection

    # then none of hers authenticates, Bob's does, and no row of hers is left
    assert not authenticates(laptop["token"]) and not authenticates(phone["token"])
    assert not ApiToken.objects.filter(user=alice).exists()
    assert authenticates(bobs["token"])


def test_after_a_password_reset_the_old_token_is_gone_and_signing_in_gives_a_new_one(alice):
    # given a token, then the password set anew (as the reset link does, through ChangePassword)
    old = sign_in()
    bus.dispatch(ChangePassword(account_id=alice.pk, password=Password("a-brand-new-staple-42")))

    # when she signs in with the new password
    new = sign_in(password="a-brand-new-staple-42")

    # then the old token answers 401 and the new one is another
    assert with_token(old["token"]).get("/api/v1/accounts/me/").status_code == 401
    assert new["token"] != old["token"] and authenticates(new["token"])
