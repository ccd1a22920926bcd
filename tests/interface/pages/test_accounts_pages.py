"""The accounts pages through Django's test client: status, template, the
command each write dispatches (read back from the event store), permission."""

from uuid import uuid4

import factory
import pytest
from django.test import Client
from django.urls import reverse

from accounts import tokens
from accounts.models import Account, Block, Follow
from interfaces.throttles import RegistrationThrottle
from messaging import bus, store
from messaging.models import StoredEvent
from tests.support.factories import AccountFactory, BlockFactory, BookFactory, FollowFactory
from tests.support.stock import place

pytestmark = pytest.mark.django_db


def key() -> dict:
    return {"idempotency_key": str(uuid4())}


def stored(type_name: str) -> list[StoredEvent]:
    return list(StoredEvent.objects.filter(type=type_name))


@pytest.fixture
def alice(client):
    account = AccountFactory(username="alice")
    client.force_login(account)
    return account


@pytest.fixture
def bob():
    return AccountFactory(username="bob")


def relationship_url(who: Account, action: str) -> str:
    return reverse("accounts:change_relationship", args=[who.username, action])


# --- home, sign-up, log in, log out ------------------------------------------


def test_home_links_a_visitor_to_sign_up_and_log_in(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "home.html" in [t.name for t in response.templates]
    assert reverse("accounts:sign_up") in response.text and reverse("accounts:log_in") in response.text


def test_home_links_staff_to_the_trace_and_the_admin(client):
    client.force_login(AccountFactory(is_staff=True))

    response = client.get("/")

    assert reverse("console:trace_index") in response.text and reverse("admin:index") in response.text


def test_the_sign_up_form_carries_a_csrf_token_and_an_idempotency_key(client):
    response = client.get(reverse("accounts:sign_up"))

    assert response.status_code == 200
    assert "accounts/sign_up.html" in [t.name for t in response.templates]
    assert 'name="csrfmiddlewaretoken"' in response.text
    assert 'name="idempotency_key"' in response.text


def sign_up_data(**overrides) -> dict:
    return {
        "username": "carol",
        "email": "Carol@Example.com",
        "password": "a sturdy passphrase",
        "password_again": "a sturdy passphrase",
        **key(),
        **overrides,
    }


def test_signing_up_registers_through_the_bus_and_asks_to_check_the_mail(client):
    response = client.post(reverse("accounts:sign_up"), sign_up_data(), follow=True)

    assert response.redirect_chain == [(reverse("accounts:sign_up_done"), 302)]
    assert "Check your mail" in response.text
    assert client.get(reverse("accounts:people")).status_code == 302  # the mailed link signs in, not this
    [event] = stored("AccountRegistered")
    assert event.command_type == "RegisterAccount"
    registered = store.load(event)
    assert registered.username == "carol" and registered.email == "carol@example.com"
    assert Account.objects.get(username="carol").check_password("a sturdy passphrase")


def test_a_password_signed_up_with_surrounding_spaces_logs_in_as_typed(client):
    client.post(
        reverse("accounts:sign_up"),
        sign_up_data(password=" a sturdy passphrase ", password_again=" a sturdy passphrase "),
    )

    assert Client().login(username="carol", password=" a sturdy passphrase ")


def test_a_profile_address_that_is_no_username_is_not_found(client):
    client.force_login(AccountFactory())

    assert client.get("/people/bob%00/").status_code == 404


def test_a_double_submitted_sign_up_registers_once(client):
    data = sign_up_data()

    first = client.post(reverse("accounts:sign_up"), data)
    second = client.post(reverse("accounts:sign_up"), data)

    assert first.status_code == second.status_code == 302
    assert len(stored("AccountRegistered")) == 1 and not stored("RegistrationRejected")


def test_a_weak_password_is_refused_by_djangos_validators_and_nothing_is_dispatched(client):
    response = client.post(reverse("accounts:sign_up"), sign_up_data(password="carol123", password_again="carol123"))

    assert response.status_code == 200
    assert response.context["form"].errors["password"]
    assert not StoredEvent.objects.exists()


def test_mismatched_passwords_and_a_bad_username_are_field_errors(client):
    response = client.post(reverse("accounts:sign_up"), sign_up_data(username="no spaces", password_again="other"))

    errors = response.context["form"].errors
    assert "username" in errors and "password_again" in errors
    assert not StoredEvent.objects.exists()


def test_a_taken_username_shows_the_refusal_and_a_fresh_key_for_the_next_try(client):
    AccountFactory(username="carol")
    data = sign_up_data()

    response = client.post(reverse("accounts:sign_up"), data)

    assert response.status_code == 200
    assert "That username is taken: choose another." in response.text
    assert stored("RegistrationRejected")[0].payload["code"] == "username_taken"
    assert response.context["form"]["idempotency_key"].value() != data["idempotency_key"]


def test_logging_in_and_out(client):
    AccountFactory(username="dave")

    page = client.get(reverse("accounts:log_in"))
    logged_in = client.post(reverse("accounts:log_in"), {"username": "dave", "password": "correct-horse-battery"})
    logged_out = client.post(reverse("accounts:log_out"))

    assert "accounts/log_in.html" in [t.name for t in page.templates]
    assert logged_in.status_code == 302 and logged_in.url == reverse("home")
    assert logged_out.status_code == 302
    assert "_auth_user_id" not in client.session


# --- directory, profile, lists -------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [("people", []), ("profile", ["bob"]), ("followers", ["bob"]), ("following", ["bob"])],
)
def test_people_pages_send_a_visitor_to_log_in(client, bob, name, args):
    response = client.get(reverse(f"accounts:{name}", args=args))

    assert response.status_code == 302 and response.url.startswith(reverse("accounts:log_in"))


def test_the_directory_searches_usernames_and_pages_through_them(client, alice, django_assert_max_num_queries):
    AccountFactory.create_batch(25, username=factory.Sequence(lambda n: f"reader_{n}"))
    AccountFactory(username="zed", is_active=False)

    with django_assert_max_num_queries(4):  # session, user, count, page
        first = client.get(reverse("accounts:people"), {"q": "read"})
    second = client.get(reverse("accounts:people"), {"q": "read", "page": 2})

    assert first.status_code == 200
    assert "accounts/people.html" in [t.name for t in first.templates]
    assert first.context["page"].paginator.count == 25
    assert len(first.context["page"]) == 20 and len(second.context["page"]) == 5
    assert "page=2" in first.text and "q=read" in first.text
    assert "zed" not in client.get(reverse("accounts:people"), {"q": "z"}).text


def test_a_profile_shows_counts_and_the_buttons_that_fit(client, alice, bob):
    FollowFactory(follower=alice, followee=bob)
    FollowFactory(follower=bob, followee=alice)
    FollowFactory(followee=bob)

    response = client.get(reverse("accounts:profile", args=["BOB"]))

    assert response.status_code == 200
    assert "accounts/profile.html" in [t.name for t in response.templates]
    account = response.context["account"]
    assert (account.followers_count, account.following_count) == (2, 1)
    assert relationship_url(bob, "unfollow") in response.text
    assert relationship_url(bob, "remove_follower") in response.text
    assert relationship_url(bob, "block") in response.text
    assert relationship_url(bob, "follow") not in response.text
    assert "Follows you" in response.text


def test_a_profile_of_nobody_is_404(client, alice):
    assert client.get(reverse("accounts:profile", args=["nobody"])).status_code == 404


def test_followers_and_following_are_listed_a_page_at_a_time(client, alice, bob):
    for _ in range(21):
        FollowFactory(followee=bob)
    FollowFactory(follower=bob, followee=alice)

    followers = client.get(reverse("accounts:followers", args=["bob"]))
    following = client.get(reverse("accounts:following", args=["bob"]))

    assert followers.status_code == following.status_code == 200
    assert "accounts/people_of.html" in [t.name for t in followers.templates]
    assert followers.context["page"].paginator.count == 21 and len(followers.context["page"]) == 20
    assert [person.username for person in following.context["page"]] == ["alice"]


def test_your_own_profile_leads_to_your_account_and_anothers_does_not(client, alice, bob):
    own = client.get(reverse("accounts:profile", args=["alice"]))
    theirs = client.get(reverse("accounts:profile", args=["bob"]))
    account = client.get(reverse("accounts:account"))

    assert 'class="button">Your account</a>' in own.text
    assert 'class="button">Your account</a>' not in theirs.text
    assert reverse("accounts:password_change") in account.text


# --- settings: the password ------------------------------------------------------

NEW_PASSWORD = "a new long secret 42"


def password_change(old: str, new: str = NEW_PASSWORD, again: str | None = None) -> dict:
    return {"old_password": old, "new_password1": new, "new_password2": new if again is None else again}


def test_changing_your_password_goes_through_the_bus_and_keeps_you_signed_in(client, alice):
    # given
    assert "accounts/password_change.html" in [
        t.name for t in client.get(reverse("accounts:password_change")).templates
    ]

    # when
    response = client.post(reverse("accounts:password_change"), password_change("correct-horse-battery"), follow=True)

    # then
    assert response.redirect_chain == [(reverse("accounts:account"), 302)]
    assert "Your password is changed." in response.text
    [event] = stored("PasswordChanged")
    assert event.command_type == "ChangePassword"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert client.get(reverse("accounts:people")).status_code == 200  # still signed in


@pytest.mark.parametrize(
    "body",
    [
        password_change("not my password"),
        password_change("correct-horse-battery", again="something else 42"),
        password_change("correct-horse-battery", new="password"),
    ],
    ids=["wrong old password", "new ones differ", "weak new password"],
)
def test_a_refused_password_change_shows_why_and_changes_nothing(client, alice, body):
    response = client.post(reverse("accounts:password_change"), body)

    assert response.status_code == 200 and response.context["form"].errors
    assert not stored("PasswordChanged")
    alice.refresh_from_db()
    assert alice.check_password("correct-horse-battery")


def test_the_password_page_sends_a_visitor_to_log_in(client):
    response = client.get(reverse("accounts:password_change"))

    assert response.status_code == 302 and response.url.startswith(reverse("accounts:log_in"))


# --- the buttons -----------------------------------------------------------------


def test_follow_dispatches_follow_account_and_says_so(client, alice, bob):
    response = client.post(relationship_url(bob, "follow"), key(), follow=True)

    assert response.redirect_chain == [(reverse("accounts:profile", args=["bob"]), 302)]
    [event] = stored("AccountFollowed")
    assert event.command_type == "FollowAccount"
    assert event.payload == {"follower_id": str(alice.pk), "followee_id": str(bob.pk)}
    assert "You follow bob now." in response.text


def test_a_refused_follow_shows_the_reason(client, alice, bob):
    BlockFactory(blocker=bob, blocked=alice)

    response = client.post(relationship_url(bob, "follow"), key(), follow=True)

    assert "You cannot follow this account: there is a block between you." in response.text
    assert stored("FollowRejected")[0].payload["code"] == "blocked"
    assert not Follow.objects.exists()


def test_block_dispatches_block_account_and_its_policy_removes_the_follows(
    client, alice, bob, django_capture_on_commit_callbacks
):
    FollowFactory(follower=bob, followee=alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(relationship_url(bob, "block"), key(), follow=True)

    assert [event.type for event in StoredEvent.objects.all()] == ["AccountBlocked", "FollowRemoved"]
    assert Block.objects.filter(blocker=alice, blocked=bob).exists() and not Follow.objects.exists()
    assert "You block bob; follows between you are gone." in response.text


@pytest.mark.parametrize(
    "given, action, event_type, command_type",
    [
        (lambda me, bob: FollowFactory(follower=me, followee=bob), "unfollow", "FollowRemoved", "UnfollowAccount"),
        (
            lambda me, bob: FollowFactory(follower=bob, followee=me),
            "remove_follower",
            "FollowRemoved",
            "RemoveFollower",
        ),
        (lambda me, bob: BlockFactory(blocker=me, blocked=bob), "unblock", "AccountUnblocked", "UnblockAccount"),
    ],
)
def test_each_undoing_button_dispatches_its_command(client, alice, bob, given, action, event_type, command_type):
    given(alice, bob)

    response = client.post(relationship_url(bob, action), key())

    assert response.status_code == 302
    [event] = stored(event_type)
    assert event.command_type == command_type
    assert not Follow.objects.exists() and not Block.objects.exists()


def test_block_asks_for_confirmation_before_anything_is_sent(client, alice, bob):
    # given the profile's Block leads to a question, not a form that acts
    profile = client.get(reverse("accounts:profile", args=["bob"]))
    assert f'href="{relationship_url(bob, "block")}"' in profile.text

    # when
    response = client.get(relationship_url(bob, "block"))

    # then
    assert response.status_code == 200
    assert "confirm.html" in [t.name for t in response.templates]
    assert "Block bob?" in response.text
    assert f'action="{relationship_url(bob, "block")}"' in response.text and 'name="idempotency_key"' in response.text
    assert not StoredEvent.objects.exists() and not Block.objects.exists()


def test_a_double_click_on_follow_has_one_effect(client, alice, bob):
    data = key()

    client.post(relationship_url(bob, "follow"), data)
    client.post(relationship_url(bob, "follow"), data)

    assert len(stored("AccountFollowed")) == 1 and StoredEvent.objects.count() == 1


def test_the_buttons_need_a_post_a_login_a_known_action_and_a_key(client, bob):
    assert client.post(relationship_url(bob, "follow"), key()).url.startswith(reverse("accounts:log_in"))
    client.force_login(AccountFactory())
    assert client.get(relationship_url(bob, "follow")).status_code == 405
    assert client.post(relationship_url(bob, "befriend"), key()).status_code == 404
    response = client.post(relationship_url(bob, "follow"), {}, follow=True)
    assert "That form was incomplete." in response.text
    assert not StoredEvent.objects.exists()


def test_writes_without_a_csrf_token_are_refused(alice, bob):
    signed_in, visitor = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    signed_in.force_login(alice)

    assert signed_in.post(relationship_url(bob, "follow"), key()).status_code == 403
    assert visitor.post(reverse("accounts:sign_up"), sign_up_data()).status_code == 403
    assert not StoredEvent.objects.exists()


def test_the_sign_up_page_and_the_api_share_one_registration_throttle(client, monkeypatch):
    # given one address allowed 3 registrations an hour, 2 used by the API
    monkeypatch.setitem(RegistrationThrottle.THROTTLE_RATES, "registration", "3/hour")
    for _ in range(2):
        client.post("/api/v1/accounts/", {}, content_type="application/json")

    # when the page is used twice
    third = client.post(reverse("accounts:sign_up"), sign_up_data())
    fourth = Client().post(reverse("accounts:sign_up"), sign_up_data(username="dave", email="dave@example.com"))

    # then the third goes through and the fourth waits, with nothing registered
    assert third.status_code == 302
    assert fourth.status_code == 429 and int(fourth["Retry-After"]) > 0
    assert "Too many sign-ups from your address" in fourth.text
    assert not Account.objects.filter(username="dave").exists()


# --- your account: tokens, your data, forget me -------------------------------


def test_your_account_lists_your_api_tokens_with_their_dates_and_nobody_elses(client, alice, bob):
    # given
    mine = [tokens.issue(alice)[0] for _ in range(2)]
    tokens.issue(bob)

    # when
    response = client.get(reverse("accounts:account"))

    # then
    assert response.status_code == 200
    assert [token.id for token in response.context["tokens"]] == [token.id for token in reversed(mine)]
    for token in mine:
        assert reverse("accounts:revoke_token", args=[token.id]) in response.text
        assert token.expiry.date().isoformat() in response.text
    assert response.text.count('data-testid="token"') == 2


def test_revoking_one_token_ends_it_alone_and_anothers_token_is_not_yours_to_revoke(client, alice, bob):
    # given
    (kept, _), (revoked, _) = tokens.issue(alice), tokens.issue(alice)
    theirs, _ = tokens.issue(bob)

    # when
    done = client.post(reverse("accounts:revoke_token", args=[revoked.id]), follow=True)
    refused = client.post(reverse("accounts:revoke_token", args=[theirs.id]), follow=True)

    # then
    assert "That token is revoked" in done.text
    assert "No such token" in refused.text
    assert [token.id for token in tokens.live(alice.pk)] == [kept.id]
    assert [token.id for token in tokens.live(bob.pk)] == [theirs.id]


def test_signing_out_everywhere_revokes_every_token_of_yours(client, alice, bob):
    tokens.issue(alice), tokens.issue(alice), tokens.issue(bob)

    response = client.post(reverse("accounts:revoke_tokens"), follow=True)

    assert "Signed out everywhere: 2 API tokens revoked." in response.text
    assert tokens.live(alice.pk) == [] and len(tokens.live(bob.pk)) == 1
    assert client.get(reverse("accounts:revoke_tokens")).status_code == 405


def test_your_data_downloads_as_the_api_exports_it(client, alice):
    # given
    FollowFactory(follower=alice)
    bus.dispatch(place(alice, (BookFactory(), 2)))

    # when
    page = client.get(reverse("accounts:export_data"))
    api = client.get("/api/v1/accounts/me/export/")

    # then
    assert page.status_code == 200 and page["Content-Type"] == "application/json"
    assert page["Content-Disposition"] == f'attachment; filename="personal-data-{alice.pk}.json"'
    assert page["Cache-Control"] == "no-store"
    downloaded, answered = page.json(), api.json()
    downloaded.pop("exported_at"), answered.pop("exported_at")
    assert downloaded == answered and downloaded["profile"]["username"] == "alice"
    assert len(downloaded["orders"]) == 1


def test_forget_me_asks_first_and_a_wrong_password_asks_again(client, alice):
    # given
    question = client.get(reverse("accounts:forget_me"))
    key = question.context["form"]["idempotency_key"].value()

    # when
    refused = client.post(reverse("accounts:forget_me"), {"password": "not it", "idempotency_key": key})

    # then
    assert "confirm.html" in [t.name for t in question.templates]
    assert "Forget your account?" in question.text and 'type="password"' in question.text
    assert refused.status_code == 200 and "This is not your password." in refused.text
    assert Account.objects.get(pk=alice.pk).is_active and not stored("AccountForgotten")
