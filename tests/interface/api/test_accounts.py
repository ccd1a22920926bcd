"""The accounts rows of the REST contract, one behaviour per test."""

import pytest

from accounts.models import Account, Block, Follow
from tests.support.factories import AccountFactory, BlockFactory, FollowFactory

ACCOUNT_FIELDS = {"id", "username", "is_active", "followers_count", "following_count", "date_joined"}
NO_RELATIONSHIP = {"following": False, "followed_by": False, "blocking": False, "blocked_by": False}


def registration(**fields):
    return {"email": "carol@example.com", "username": "carol", "password": "correct-horse-battery", **fields}


# --- registration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "invalid"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"username": "no spaces allowed"}, "username"),
        ({"username": "x" * 31}, "username"),
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"email": 42}, "email"),
        ({"username": ["carol"]}, "username"),
    ],
)
def test_registering_with_an_invalid_field_answers_400_naming_it(db, anonymous, fields, invalid):
    response = anonymous.post("/api/v1/accounts/", registration(**fields), format="json")

    assert response.status_code == 400
    assert invalid in response.data["fields"]
    assert not Account.objects.exists()


# --- reading accounts ---------------------------------------------------------


def test_an_account_shows_its_counts_and_hides_its_email_from_others(alice, bob, signed_in):
    # given
    FollowFactory(follower=alice, followee=bob)
    FollowFactory(follower=AccountFactory(), followee=bob)

    # when
    response = signed_in(alice).get(f"/api/v1/accounts/{bob.pk}/")

    # then
    assert response.status_code == 200
    assert set(response.data) == ACCOUNT_FIELDS
    assert (response.data["followers_count"], response.data["following_count"]) == (2, 0)


@pytest.mark.parametrize("viewer", ["bob", "staff"])
def test_the_account_itself_and_staff_see_the_email(alice, bob, staff, signed_in, viewer):
    viewing = {"bob": bob, "staff": staff}[viewer]

    response = signed_in(viewing).get(f"/api/v1/accounts/{bob.pk}/")

    assert response.data["email"] == bob.email


def test_me_is_the_signed_in_account_with_its_email(alice, signed_in):
    response = signed_in(alice).get("/api/v1/accounts/me/")

    assert response.status_code == 200
    assert (response.data["id"], response.data["email"]) == (str(alice.pk), alice.email)


def test_an_unknown_account_answers_404(alice, signed_in):
    response = signed_in(alice).get("/api/v1/accounts/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    assert response.data["code"] == "not_found"


def test_search_matches_any_case_with_prefix_matches_first(alice, signed_in):
    # given
    for username in ("zed_ann", "Annie", "bob_anna", "charlie"):
        AccountFactory(username=username)

    # when
    response = signed_in(alice).get("/api/v1/accounts/", {"search": "ANN"})

    # then
    assert response.status_code == 200
    assert [row["username"] for row in response.data["results"]] == ["Annie", "bob_anna", "zed_ann"]
    assert response.data["count"] == 3


def test_lists_are_paginated_with_a_bounded_page_size(alice, signed_in):
    # given
    AccountFactory.create_batch(4)

    # when
    first = signed_in(alice).get("/api/v1/accounts/", {"page_size": 2})
    capped = signed_in(alice).get("/api/v1/accounts/", {"page_size": 10**9})

    # then
    assert set(first.data) == {"count", "next", "previous", "results"}
    assert (first.data["count"], len(first.data["results"]), first.data["previous"]) == (5, 2, None)
    assert "page=2" in first.data["next"]
    assert len(capped.data["results"]) == 5


def test_a_page_of_accounts_costs_the_same_queries_whatever_its_size(alice, signed_in, django_assert_max_num_queries):
    # given: accounts with followers and followings
    accounts = AccountFactory.create_batch(30)
    for account in accounts:
        FollowFactory(follower=account, followee=alice)
        FollowFactory(follower=alice, followee=account)
    client = signed_in(alice)

    # when / then: authentication, count, page
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/accounts/", {"page_size": 31})
    assert len(response.data["results"]) == 31
    assert {row["followers_count"] for row in response.data["results"] if row["username"] != "alice"} == {1}


def test_followers_and_following_list_accounts_by_username(alice, bob, signed_in):
    # given
    carol = AccountFactory(username="carol")
    FollowFactory(follower=carol, followee=alice)
    FollowFactory(follower=bob, followee=alice)
    FollowFactory(follower=alice, followee=carol)

    # when
    followers = signed_in(bob).get(f"/api/v1/accounts/{alice.pk}/followers/")
    following = signed_in(bob).get(f"/api/v1/accounts/{alice.pk}/following/")

    # then
    assert [row["username"] for row in followers.data["results"]] == ["bob", "carol"]
    assert [row["username"] for row in following.data["results"]] == ["carol"]


@pytest.mark.parametrize("listing", ["followers", "following", "relationship"])
def test_the_graph_of_an_unknown_account_answers_404(alice, signed_in, listing):
    response = signed_in(alice).get(f"/api/v1/accounts/00000000-0000-0000-0000-000000000000/{listing}/")

    assert response.status_code == 404


def test_the_relationship_is_seen_from_the_callers_side(alice, bob, signed_in):
    # given
    FollowFactory(follower=bob, followee=alice)
    BlockFactory(blocker=alice, blocked=bob)

    # when
    response = signed_in(alice).get(f"/api/v1/accounts/{bob.pk}/relationship/")

    # then
    assert response.data == {"following": False, "followed_by": True, "blocking": True, "blocked_by": False}


# --- the social graph -----------------------------------------------------------


def test_following_answers_201_then_200_when_already_following(alice, bob, signed_in):
    client = signed_in(alice)

    first = client.post(f"/api/v1/accounts/{bob.pk}/follow/")
    again = client.post(f"/api/v1/accounts/{bob.pk}/follow/")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.data == {**NO_RELATIONSHIP, "following": True}
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1


def test_following_oneself_answers_409_cannot_follow_self(alice, signed_in):
    response = signed_in(alice).post(f"/api/v1/accounts/{alice.pk}/follow/")

    assert (response.status_code, response.data["code"]) == (409, "cannot_follow_self")


def test_following_across_a_block_answers_409_blocked(alice, bob, signed_in):
    BlockFactory(blocker=bob, blocked=alice)

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/")

    assert (response.status_code, response.data["code"]) == (409, "blocked")


def test_following_a_deactivated_account_answers_409_account_inactive(alice, signed_in):
    gone = AccountFactory(is_active=False)

    response = signed_in(alice).post(f"/api/v1/accounts/{gone.pk}/follow/")

    assert (response.status_code, response.data["code"]) == (409, "account_inactive")


def test_following_past_the_limit_answers_409_follow_limit_reached(alice, bob, signed_in, settings):
    settings.FOLLOW_LIMIT = 1
    FollowFactory(follower=alice)

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/follow/")

    assert (response.status_code, response.data["code"]) == (409, "follow_limit_reached")


@pytest.mark.parametrize("verb", ["follow", "unfollow", "remove-follower", "block", "unblock"])
def test_acting_on_an_unknown_account_answers_404(alice, signed_in, verb):
    response = signed_in(alice).post(f"/api/v1/accounts/00000000-0000-0000-0000-000000000000/{verb}/")

    assert response.status_code == 404
    assert response.data["code"] in {"account_not_found", "not_found"}


@pytest.mark.parametrize("verb", ["unfollow", "remove-follower", "unblock"])
def test_undoing_answers_200_whether_or_not_there_was_something_to_undo(alice, bob, signed_in, verb):
    client = signed_in(alice)

    responses = [client.post(f"/api/v1/accounts/{bob.pk}/{verb}/") for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert responses[1].data == NO_RELATIONSHIP


def test_unfollowing_ends_the_follow(alice, bob, signed_in):
    FollowFactory(follower=alice, followee=bob)

    signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/unfollow/")

    assert not Follow.objects.exists()


def test_removing_a_follower_ends_their_follow(alice, bob, signed_in):
    FollowFactory(follower=bob, followee=alice)

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/remove-follower/")

    assert response.data["followed_by"] is False
    assert not Follow.objects.exists()


def test_blocking_answers_201_then_200_when_already_blocking(alice, bob, signed_in):
    client = signed_in(alice)

    first = client.post(f"/api/v1/accounts/{bob.pk}/block/")
    again = client.post(f"/api/v1/accounts/{bob.pk}/block/")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.data["blocking"] is True
    assert Block.objects.filter(blocker=alice, blocked=bob).count() == 1


def test_blocking_oneself_answers_409_cannot_block_self(alice, signed_in):
    response = signed_in(alice).post(f"/api/v1/accounts/{alice.pk}/block/")

    assert (response.status_code, response.data["code"]) == (409, "cannot_block_self")


def test_unblocking_lifts_the_block(alice, bob, signed_in):
    BlockFactory(blocker=alice, blocked=bob)

    response = signed_in(alice).post(f"/api/v1/accounts/{bob.pk}/unblock/")

    assert response.data["blocking"] is False
    assert not Block.objects.exists()


def test_deactivating_answers_200_with_the_inactive_account(alice, signed_in):
    response = signed_in(alice).post("/api/v1/accounts/me/deactivate/")

    assert response.status_code == 200
    assert (response.data["id"], response.data["is_active"]) == (str(alice.pk), False)
    alice.refresh_from_db()
    assert not alice.is_active


def test_deactivated_accounts_are_out_of_the_search_but_staff_still_find_them(alice, signed_in, staff):
    # given a deactivated account
    gone = AccountFactory(username="alicia", is_active=False)

    # when Alice and staff search
    found = signed_in(alice).get("/api/v1/accounts/", {"search": "ali"}).json()["results"]
    by_staff = signed_in(staff).get("/api/v1/accounts/", {"search": "ali"}).json()["results"]

    # then only staff see it
    assert [account["username"] for account in found] == ["alice"]
    assert str(gone.pk) in [account["id"] for account in by_staff]
