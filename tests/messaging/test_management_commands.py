"""send_command, relay_events and trace from the shell."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Follow
from messaging.management.commands.send_command import Command as SendCommand
from messaging.registry import registry
from tests.support.factories import AccountFactory, BookFactory


def send(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("send_command", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db(transaction=True)  # real commits, as on the shell: policies run on commit
def test_the_workshop_story_from_the_shell():
    registered, *_ = send("RegisterAccount", "email=Alice@Example.com", "username=alice", "password=pw-12345678")
    send("RegisterAccount", "email=bob@example.com", "username=bob", "password=pw-12345678")

    send("FollowAccount", "follower_id=@alice", "followee_id=@bob")
    blocked, removed = send("BlockAccount", "blocker_id=@bob", "blocked_id=@alice")
    with pytest.raises(CommandError, match="refused: blocked") as refusal:
        send("FollowAccount", "follower_id=@alice", "followee_id=@bob")

    assert registered["type"] == "AccountRegistered" and registered["payload"]["email"] == "alice@example.com"
    assert (blocked["type"], removed["type"], removed["payload"]["reason"]) == (
        "AccountBlocked",
        "FollowRemoved",
        "blocked",
    )
    assert removed["causation_id"] == blocked["event_id"]
    assert refusal.value.returncode == 1
    assert not Follow.objects.exists()


def test_a_weak_password_from_the_shell_is_refused_with_exit_1(db):
    with pytest.raises(CommandError, match="refused: weak_password: .*This password is too short") as refusal:
        send("RegisterAccount", "email=x@example.com", "username=xavier", "password=x")

    assert refusal.value.returncode == 1
    assert not Account.objects.exists()


def test_an_unknown_command_exits_2_listing_the_known_ones(db):
    with pytest.raises(CommandError, match="known commands: .*BlockAccount, .*DeactivateAccount") as error:
        send("FlyToTheMoon")
    assert error.value.returncode == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["FollowAccount", "follower_id=12", "followee_id=@x"], "follower_id: 12 is not a valid UUID"),
        (["FollowAccount", "follower_id=@nobody"], "no account is named 'nobody'"),
        (["FollowAccount", "mood=happy"], "has no field 'mood'"),
        (["FollowAccount"], "FollowAccount needs: follower_id, followee_id"),
        (["RegisterAccount", "email=nope", "username=al", "password=x"], "email: Enter a valid e-mail address."),
        (["FollowAccount", "oops"], "expected field=value"),
    ],
)
def test_bad_input_exits_2_with_a_readable_message(db, args, message):
    with pytest.raises(CommandError, match=message) as error:
        send(*args)
    assert error.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_trace_prints_the_causal_tree():
    AccountFactory(username="alice"), AccountFactory(username="bob")
    send("FollowAccount", "follower_id=@alice", "followee_id=@bob")
    blocked, _ = send("BlockAccount", "blocker_id=@bob", "blocked_id=@alice")

    out = io.StringIO()
    call_command("trace", blocked["correlation_id"], stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("BlockAccount (command ")
    assert lines[1].startswith("└── AccountBlocked v1")
    assert lines[2].strip().startswith("└── policy accounts.policies.remove_follows_on_block [done, 1 attempt(s)]")
    assert lines[3].strip().startswith("└── SeverFollows (command ")
    assert lines[4].strip().startswith("└── FollowRemoved v1") and "reason=blocked" in lines[4]
    assert lines[0].endswith(" ms") and " in " in lines[0] and lines[2].endswith(" ms")  # how long each took


@pytest.mark.django_db(transaction=True)
def test_trace_names_the_people_and_books_as_the_trace_page_does():
    AccountFactory(username="alice"), AccountFactory(username="bob")
    book = BookFactory(title="Dune")
    (blocked, *_) = send("BlockAccount", "blocker_id=@bob", "blocked_id=@alice", "--actor", "@bob")
    (placed, *_) = send("PlaceOrder", "--actor", "@alice", f'items=[{{"book_id": "{book.pk}", "quantity": 1}}]')

    block, order = io.StringIO(), io.StringIO()
    call_command("trace", blocked["correlation_id"], stdout=block)
    call_command("trace", placed["correlation_id"], stdout=order)

    lines = block.getvalue().splitlines()
    assert lines[0].startswith("BlockAccount (command ") and " by bob " in lines[0]
    assert f"blocker_id={blocked['payload']['blocker_id']} (bob)" in lines[1]
    assert f"blocked_id={blocked['payload']['blocked_id']} (alice)" in lines[1]
    assert "(Dune)" in next(line for line in order.getvalue().splitlines() if "StockReserved" in line)


@pytest.mark.django_db(transaction=True)
def test_trace_latest_lists_the_most_recent_requests_newest_first():
    AccountFactory(username="alice"), AccountFactory(username="bob")
    followed = send("FollowAccount", "follower_id=@alice", "followee_id=@bob", "--actor", "@alice")[0]
    blocked = send("BlockAccount", "blocker_id=@bob", "blocked_id=@alice", "--actor", "@bob")[0]
    with pytest.raises(CommandError):
        send("FollowAccount", "follower_id=@alice", "followee_id=@bob", "--actor", "@alice")

    out = io.StringIO()
    call_command("trace", "--latest", "2", stdout=out)

    refused, block = out.getvalue().splitlines()
    assert "FollowAccount" in refused and "by alice" in refused and "refused" in refused
    assert block.split()[2] == blocked["correlation_id"] and "BlockAccount" in block and "by bob" in block
    assert followed["correlation_id"] not in out.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [((), "give a correlation id, or --latest N"), (("--latest", "0"), "--latest takes a number from 1 to 1000")],
)
def test_trace_without_what_to_show_says_how_to_ask(db, args, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("trace", *args)
    assert error.value.returncode == 2


def test_trace_of_an_unknown_correlation_id_says_so(db):
    with pytest.raises(CommandError, match="No events stored"):
        call_command("trace", "00000000-0000-4000-8000-000000000000")


def relay() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("relay_events", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_relay_warns_of_standing_dead_letters_and_repeats_them_in_its_summary(dead):
    out, err = relay()

    advice = "1 dead-lettered deliveries need an operator: manage.py deliveries list --status dead"
    assert advice in err
    assert out.splitlines()[-1] == f"relay finished: nothing was due; {advice}"


def test_without_dead_letters_the_relay_says_nothing_of_them(db):
    assert relay() == ("relay finished: nothing was due\n", "")


@pytest.mark.django_db(transaction=True)
def test_options_come_anywhere_and_references_resolve_inside_json_ids():
    alice = AccountFactory(username="alice")
    book = BookFactory(isbn="9780743273565")
    items = '[{"book_id": "isbn:978-0-7432-7356-5", "quantity": 2}]'

    (placed, _) = send("PlaceOrder", "--actor", "@alice", f"items={items}")

    assert placed["payload"]["customer_id"] == str(alice.pk)
    assert placed["payload"]["items"][0]["book_id"] == str(book.pk)


@pytest.mark.django_db(transaction=True)
def test_free_text_that_looks_like_a_reference_stays_as_typed():
    AccountFactory(username="alice")

    (added, *_) = send("AddBook", "title=@alice", "author=isbn:123", "price=9.50")

    assert (added["payload"]["title"], added["payload"]["author"]) == ("@alice", "isbn:123")


def test_a_reference_inside_json_that_names_nothing_exits_2(db):
    AccountFactory(username="alice")

    with pytest.raises(CommandError, match="items: no book has ISBN") as error:
        send("PlaceOrder", 'items=[{"book_id": "isbn:9780743273565", "quantity": 1}]', "--actor=@alice")
    assert error.value.returncode == 2


def test_help_lists_every_command_with_its_fields_and_examples(db):
    text = SendCommand().create_parser("manage.py", "send_command").format_help()
    commands_section = text.split("commands and their fields:")[1].split("examples:")[0]
    listed = {line.split()[0] for line in commands_section.splitlines() if line.strip()}

    assert listed == set(registry.commands)
    assert "  FollowAccount follower_id=<id> followee_id=<id>\n" in text
    assert 'PlaceOrder items=<[{"book_id": id, "quantity": number}, ...]>' in text
    assert "send_command PlaceOrder --actor @alice items=" in text
