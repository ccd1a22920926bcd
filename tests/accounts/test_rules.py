"""Every rule of the social graph and every refusal code."""

import uuid

import pytest
from django.contrib.auth.hashers import make_password

from accounts.commands import (
    BlockAccount,
    DeactivateAccount,
    FollowAccount,
    RegisterAccount,
    RegisterSeededAccount,
    RemoveFollower,
    UnblockAccount,
    UnfollowAccount,
)
from accounts.events import (
    AccountBlocked,
    AccountDeactivated,
    AccountFollowed,
    AccountRegistered,
    AccountUnblocked,
    FollowRemoved,
    FollowsSevered,
    SignUpWithTakenEmail,
    VerificationLinkRequested,
)
from accounts.models import Account, Block, Follow
from accounts.values import Email, Password, PasswordHash, Username
from messaging.models import StoredEvent
from messaging.testing import relay
from tests.support.factories import AccountFactory, BlockFactory, FollowFactory


def register(email="alice@example.com", username="alice", password="correct-horse-battery"):
    return RegisterAccount(email=Email(email), username=Username(username), password=Password(password))


# --- registration ----------------------------------------------------------


def test_registering_stores_the_account_with_a_hashed_password_its_address_to_verify(db, scenario):
    outcome = scenario.when(register()).then_events(AccountRegistered, VerificationLinkRequested)

    account = Account.objects.get(pk=outcome.events[0].account_id)
    assert (account.email, account.username, account.is_active) == ("alice@example.com", "alice", True)
    assert not account.email_verified
    assert account.check_password("correct-horse-battery")
    assert account.password != "correct-horse-battery"


@pytest.mark.parametrize(
    "email, username",
    [("ALICE@example.com", "someone"), ("someone@example.com", "ALICE")],
    ids=["same e-mail in another case", "same username in another case"],
)
def test_a_second_registration_makes_no_account(db, scenario, email, username):
    scenario.given(register())

    outcome = scenario.when(register(email=email, username=username)).result

    assert Account.objects.count() == 1
    if username == "ALICE":  # usernames are public: a taken one is said
        assert outcome.rejection.code == "username_taken"
    else:  # an address is not: its owner is told by mail, the sign-up answered as a new one
        assert not outcome.rejection and [type(event) for event in outcome.events] == [SignUpWithTakenEmail]


def test_a_seeded_registration_keeps_the_hash_it_was_given_and_is_refused_a_taken_name(db, scenario):
    password_hash = PasswordHash(make_password("demo-password"))
    seeded = RegisterSeededAccount(
        email=Email("ada@example.com"), username=Username("ada"), password_hash=password_hash
    )

    outcome = scenario.when(seeded).then_events(AccountRegistered)
    again = RegisterSeededAccount(email=Email("x@example.com"), username=Username("ADA"), password_hash=password_hash)
    scenario.when(again).then_rejected("account_already_exists")

    account = Account.objects.get(pk=outcome.events[0].account_id)
    assert account.password == password_hash.value and account.check_password("demo-password")


@pytest.mark.parametrize(
    "password, message",
    [
        ("x", "This password is too short."),
        ("password", "This password is too common."),
        ("31415926535", "This password is entirely numeric."),
        ("alice-example", "The password is too similar to the"),
    ],
)
def test_a_weak_password_is_refused_by_the_domain_whoever_sends_it(db, scenario, password, message):
    outcome = scenario.when(register(password=password)).then_rejected("weak_password")

    assert message in outcome.result.rejection.reason
    assert not Account.objects.exists()


def test_a_taken_email_is_hashed_like_a_new_one_and_its_owner_gets_a_mail(db, scenario, mailoutbox, settings):
    settings.SITE_URL = "http://testserver"
    owner = scenario.when(register()).events[0]

    scenario.when(register(email="Alice@Example.com", username="someone")).then_events(SignUpWithTakenEmail)
    relay()

    mails = {mail.subject: mail for mail in mailoutbox}
    assert set(mails) == {"Confirm your e-mail address", "Someone tried to sign up with your address"}
    assert mails["Someone tried to sign up with your address"].to == ["alice@example.com"]
    assert "http://testserver/password-reset/" in mails["Someone tried to sign up with your address"].body
    assert StoredEvent.objects.get(type="SignUpWithTakenEmail").payload == {"account_id": str(owner.account_id)}


def test_the_password_never_enters_the_event_store_nor_the_log(db, scenario, caplog):
    caplog.set_level("DEBUG")
    command = RegisterAccount(
        email=Email("alice@example.com"),
        username=Username("alice"),
        password=Password("hunter2-very-secret"),
        idempotency_key="signup-1",
    )

    scenario.when(command).then_events(AccountRegistered, VerificationLinkRequested)

    stored = " ".join(str(row.payload) for row in StoredEvent.objects.all())
    assert "hunter2" not in stored
    assert "hunter2" not in caplog.text
    assert "RegisterAccount" in caplog.text


# --- follow ----------------------------------------------------------------


def test_following_an_active_account_records_the_follow(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_events(AccountFollowed)

    assert Follow.objects.filter(follower=alice, followee=bob).exists()


def test_following_again_is_idempotent_and_yields_no_new_event(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    scenario.given(FollowAccount(follower_id=alice.pk, followee_id=bob.pk))

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_no_change()

    assert StoredEvent.objects.filter(type="AccountFollowed").count() == 1


def test_nobody_can_follow_themselves(db, scenario):
    alice = AccountFactory()

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=alice.pk)).then_rejected("cannot_follow_self")


def test_following_an_unknown_account_is_refused(db, scenario):
    alice = AccountFactory()

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=uuid.uuid4())).then_rejected("account_not_found")


@pytest.mark.parametrize("inactive", ["follower", "followee"])
def test_following_is_refused_when_either_account_is_inactive(db, scenario, inactive):
    follower = AccountFactory(is_active=inactive != "follower")
    followee = AccountFactory(is_active=inactive != "followee")

    scenario.when(FollowAccount(follower_id=follower.pk, followee_id=followee.pk)).then_rejected("account_inactive")

    assert not Follow.objects.exists()


@pytest.mark.parametrize("direction", ["followee blocks follower", "follower blocks followee"])
def test_following_is_refused_while_either_side_blocks_the_other(db, scenario, direction):
    alice, bob = AccountFactory(), AccountFactory()
    if direction == "followee blocks follower":
        BlockFactory(blocker=bob, blocked=alice)
    else:
        BlockFactory(blocker=alice, blocked=bob)

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_rejected("blocked")

    assert not Follow.objects.exists()


def test_following_past_the_follow_limit_is_refused(db, scenario, settings):
    settings.FOLLOW_LIMIT = 2
    alice = AccountFactory()
    for _ in range(2):
        FollowFactory(follower=alice)

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=AccountFactory().pk)).then_rejected(
        "follow_limit_reached"
    )

    assert Follow.objects.filter(follower=alice).count() == 2


# --- unfollow and remove follower -----------------------------------------


def test_unfollowing_removes_the_follow_with_its_reason(db, scenario):
    follow = FollowFactory()

    outcome = scenario.when(UnfollowAccount(follower_id=follow.follower_id, followee_id=follow.followee_id))

    outcome.then_events(FollowRemoved)
    assert outcome.events[0].reason == "unfollowed"
    assert not Follow.objects.exists()


def test_unfollowing_someone_not_followed_changes_nothing(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()

    scenario.when(UnfollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_no_change()


def test_unfollowing_an_unknown_account_is_refused(db, scenario):
    scenario.when(UnfollowAccount(follower_id=AccountFactory().pk, followee_id=uuid.uuid4())).then_rejected(
        "account_not_found"
    )


def test_an_account_can_remove_one_of_its_followers(db, scenario):
    follow = FollowFactory()

    outcome = scenario.when(RemoveFollower(account_id=follow.followee_id, follower_id=follow.follower_id))

    outcome.then_events(FollowRemoved)
    assert outcome.events[0].reason == "follower_removed"
    assert not Follow.objects.exists()


# --- block and unblock -----------------------------------------------------


def test_blocking_records_the_block(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()

    scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=bob.pk)).then_events(AccountBlocked)

    assert Block.objects.filter(blocker=alice, blocked=bob).exists()


def test_blocking_again_is_idempotent_and_yields_no_new_event(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    scenario.given(BlockAccount(blocker_id=alice.pk, blocked_id=bob.pk))

    scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=bob.pk)).then_no_change()


def test_nobody_can_block_themselves(db, scenario):
    alice = AccountFactory()

    scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=alice.pk)).then_rejected("cannot_block_self")


def test_blocking_an_unknown_account_is_refused(db, scenario):
    scenario.when(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=uuid.uuid4())).then_rejected(
        "account_not_found"
    )


def test_a_block_removes_the_follows_both_ways_each_with_its_own_event(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)
    FollowFactory(follower=bob, followee=alice)

    outcome = scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=bob.pk))

    outcome.then_cascade(AccountBlocked, FollowRemoved, FollowRemoved)
    removed = {(e.follower_id, e.followee_id, e.reason) for e in outcome.cascade[1:]}
    assert removed == {(alice.pk, bob.pk, "blocked"), (bob.pk, alice.pk, "blocked")}
    assert not Follow.objects.exists()


def test_a_block_leaves_follows_with_other_accounts_alone(db, scenario):
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=carol)

    scenario.when(BlockAccount(blocker_id=alice.pk, blocked_id=bob.pk))

    assert Follow.objects.filter(follower=alice, followee=carol).exists()


def test_unblocking_lets_them_follow_again(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()
    scenario.given(BlockAccount(blocker_id=bob.pk, blocked_id=alice.pk))

    scenario.when(UnblockAccount(blocker_id=bob.pk, blocked_id=alice.pk)).then_events(AccountUnblocked)

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=bob.pk)).then_events(AccountFollowed)


def test_unblocking_someone_not_blocked_changes_nothing(db, scenario):
    alice, bob = AccountFactory(), AccountFactory()

    scenario.when(UnblockAccount(blocker_id=alice.pk, blocked_id=bob.pk)).then_no_change()


# --- deactivation ----------------------------------------------------------


def test_deactivation_removes_every_follow_in_and_out(db, scenario):
    alice, bob, carol = AccountFactory(), AccountFactory(), AccountFactory()
    FollowFactory(follower=alice, followee=bob)
    FollowFactory(follower=carol, followee=alice)
    FollowFactory(follower=bob, followee=carol)

    outcome = scenario.when(DeactivateAccount(account_id=alice.pk))

    outcome.then_cascade(AccountDeactivated, FollowsSevered)
    severed = outcome.cascade[1]
    assert (severed.reason, severed.followers, severed.followees) == ("account_deactivated", (carol.pk,), (bob.pk,))
    assert list(Follow.objects.values_list("follower", "followee")) == [(bob.pk, carol.pk)]
    alice.refresh_from_db()
    assert not alice.is_active


def test_deactivating_twice_changes_nothing_the_second_time(db, scenario):
    alice = AccountFactory()
    scenario.given(DeactivateAccount(account_id=alice.pk))

    scenario.when(DeactivateAccount(account_id=alice.pk)).then_no_change()


def test_deactivating_an_unknown_account_is_refused(db, scenario):
    scenario.when(DeactivateAccount(account_id=uuid.uuid4())).then_rejected("account_not_found")


def test_a_refusal_leaves_nothing_half_written(db, scenario):
    alice = AccountFactory()
    before = (Follow.objects.count(), Block.objects.count(), Account.objects.count())

    scenario.when(FollowAccount(follower_id=alice.pk, followee_id=alice.pk)).then_rejected("cannot_follow_self")

    assert (Follow.objects.count(), Block.objects.count(), Account.objects.count()) == before
    assert list(StoredEvent.objects.values_list("type", flat=True)) == ["FollowRejected"]
