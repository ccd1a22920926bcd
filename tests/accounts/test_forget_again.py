"""Forgetting again after a restore: ``forgotten_accounts --since`` lists,
from the database being replaced, whom it forgot since the backup was
taken; ``forget_again`` forgets them in the restored one. (The whole path,
a dump restored into a new cluster, is in
tests/reliability/test_backup_restore.py.)"""

import io
from datetime import timedelta
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.commands import ForgetAccount, RegisterAccount
from accounts.events import AccountRegistered
from accounts.models import Account
from accounts.values import Email, Password, Username
from messaging import bus, store
from messaging.models import PersonalDataKey, StoredEvent


def register(name: str):
    result = bus.dispatch(
        RegisterAccount(
            email=Email(f"{name}@example.com"), username=Username(name), password=Password("a long secret 1")
        )
    )
    (registered,) = [event for event in result.events if isinstance(event, AccountRegistered)]
    return registered.account_id


def run(*arguments) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_forgotten_accounts_lists_those_forgotten_since_a_moment_oldest_first(db):
    early, ann, bob, kept = register("early"), register("ann"), register("bob"), register("kept")
    bus.dispatch(ForgetAccount(account_id=early))
    StoredEvent.objects.filter(type="AccountForgotten").update(occurred_at=timezone.now() - timedelta(days=2))
    backup_taken = timezone.now() - timedelta(days=1)
    bus.dispatch(ForgetAccount(account_id=bob))
    bus.dispatch(ForgetAccount(account_id=ann))

    out, _ = run("forgotten_accounts", "--since", backup_taken.isoformat())

    assert out.split() == [str(bob), str(ann)]
    assert str(kept) not in out and str(early) not in out
    assert run("forgotten_accounts", "--since", backup_taken.date().isoformat())[0].split() == [str(bob), str(ann)]


def test_forgotten_accounts_refuses_what_is_no_time(db):
    with pytest.raises(CommandError, match="'yesterday' is no date or time"):
        run("forgotten_accounts", "--since", "yesterday")


def test_forget_again_forgets_each_listed_account_once_and_says_what_it_did(db, tmp_path):
    # given: a database restored from before Ann was forgotten: she reads in clear
    ann, bob = register("ann"), register("bob")
    bus.dispatch(ForgetAccount(account_id=bob))
    stranger = uuid4()
    listed = tmp_path / "forgotten.txt"
    listed.write_text(f"# forgotten since the backup\n{ann}\n{bob}\n\n{stranger}\n{ann}\n")

    # when: they are forgotten again
    out, err = run("forget_again", str(listed))

    # then: Ann is forgotten, Bob was already, the stranger is not in this database
    assert out.splitlines() == [
        f"{ann}: forgotten again",
        f"{bob}: already forgotten",
        f"{stranger}: not forgotten: No such account.",
    ]
    assert "3 account(s): 1 already forgotten, 1 forgotten again, 1 not forgotten" in err
    assert PersonalDataKey.objects.get(subject=ann).key is None
    assert Account.objects.get(pk=ann).email.endswith(".invalid")
    registration = StoredEvent.objects.get(type="AccountRegistered", payload__account_id=str(ann))
    assert store.load(registration).email == "(forgotten)"

    # and a second run changes nothing
    assert run("forget_again", str(listed))[0].count("already forgotten") == 2


def test_forget_again_refuses_a_file_with_what_is_no_id_and_forgets_nobody(db, tmp_path):
    ann = register("ann")
    listed = tmp_path / "forgotten.txt"
    listed.write_text(f"{ann}\nann@example.com\n")

    with pytest.raises(CommandError, match=r"nothing was forgotten\): line 2: .ann@example.com."):
        run("forget_again", str(listed))
    with pytest.raises(CommandError, match="cannot read"):
        run("forget_again", str(tmp_path / "missing.txt"))

    assert PersonalDataKey.objects.get(subject=ann).key is not None
