"""An operator's operations on deliveries from the shell (manage.py
deliveries retry, skip, discard): retry now, skip with a reason, retry or
discard by policy and time window; each with a dry run, in bounded batches,
each batch a command recorded in the log with the operator as its actor and
the operating-system user and host that ran it as its origin."""

import getpass
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Delivery, StoredEvent
from tests.support.deliveries_command import deliveries, refused
from tests.support.factories import AccountFactory
from tests.support.troubled import POLICY

pytestmark = pytest.mark.django_db

ORIGIN = f"{getpass.getuser()}@{socket.gethostname()}"  # who runs this suite, where: as the shell records it


@pytest.fixture(autouse=True)
def not_under_sudo(monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)


def statuses(troubled) -> dict[str, str]:
    names = ("pending", "failed", "dead", "done", "old_dead")
    return {name: troubled.fresh(name).status for name in names}


BEFORE = {"pending": "pending", "failed": "failed", "dead": "dead", "done": "done", "old_dead": "dead"}


def test_a_dry_run_counts_and_shows_a_sample_and_changes_nothing(troubled):
    out, _ = deliveries("retry", "--policy", POLICY, "--since", "2h", "--dry-run")

    assert out.startswith("dry run: would retry 2 failed or dead-lettered deliveries; nothing changed. The first 2:")
    sample = [line.split()[:2] for line in out.splitlines()[2:]]  # the old dead letter, 3h ago: outside the window
    assert sample == [[str(troubled.failed.pk), "failed"], [str(troubled.dead.pk), "dead"]]
    assert statuses(troubled) == BEFORE
    assert troubled.recorded("DeliveriesRetried") == []


def test_retry_by_policy_and_window_runs_the_failed_and_dead_now_as_a_recorded_command(troubled):
    operator = AccountFactory(username="night_operator")

    out, _ = deliveries("retry", "--policy", POLICY, "--since", "2h", "--actor", "@night_operator")

    assert "retried 2 failed or dead-lettered deliveries: 2 done" in out
    assert statuses(troubled) == {**BEFORE, "failed": "done", "dead": "done"}  # the old dead letter: outside
    (recorded,) = troubled.recorded("DeliveriesRetried")
    assert recorded.payload["delivery_ids"] == [troubled.failed.pk, troubled.dead.pk]
    assert recorded.actor_id == operator.pk


def test_an_operation_runs_in_bounded_batches_each_one_command(troubled):
    out, err = deliveries("discard", "--all-dead", "--policy", POLICY, "--batch", "1")

    assert "discarded 2 dead-lettered deliveries" in out
    assert "discard: 1 of about 2" in err and "discard: 2 of about 2" in err  # progress, batch by batch
    assert [event.payload["delivery_ids"] for event in troubled.recorded("DeliveriesDiscarded")] == [
        [troubled.old_dead.pk],
        [troubled.dead.pk],
    ]


def test_discard_by_policy_and_window_leaves_the_newer_dead_letters(troubled):
    out, _ = deliveries("discard", "--policy", POLICY, "--until", "1h")

    assert f"discarded delivery {troubled.old_dead.pk}" in out
    assert statuses(troubled) == {**BEFORE, "old_dead": "discarded"}


def test_skip_settles_without_running_and_records_who_and_why(troubled):
    AccountFactory(username="night_operator")

    out, _ = deliveries("skip", str(troubled.pending.pk), "--reason", "sent by hand", "--actor", "@night_operator")

    row = troubled.fresh("pending")
    assert (row.status, row.last_error) == ("skipped", "skipped by night_operator: sent by hand")
    assert "skipped 1 deliveries" in out
    assert troubled.ran == []  # never run
    (recorded,) = troubled.recorded("DeliveriesSkipped")
    assert recorded.payload == {"delivery_ids": [troubled.pending.pk], "reason": "sent by hand", "origin": ORIGIN}


def test_without_an_actor_the_record_names_the_operating_system_user_and_host_that_ran_it(troubled):
    out, _ = deliveries("retry", "--policy", POLICY, "--since", "2h")
    deliveries("skip", str(troubled.pending.pk), "--reason", "sent by hand")

    assert "retried 2 failed or dead-lettered deliveries: 2 done" in out
    recorded = troubled.recorded("DeliveriesRetried") + troubled.recorded("DeliveriesSkipped")
    assert [(event.actor_id, event.payload["origin"]) for event in recorded] == [(None, ORIGIN), (None, ORIGIN)]
    assert troubled.fresh("pending").last_error == f"skipped by {ORIGIN}: sent by hand"


def test_under_sudo_the_origin_names_the_user_who_ran_sudo_too(troubled, monkeypatch):
    monkeypatch.setenv("LOGNAME", "shop")  # sudo -u shop: the login name is the shop's
    monkeypatch.setenv("SUDO_USER", "alice")

    deliveries("discard", str(troubled.dead.pk))

    (recorded,) = troubled.recorded("DeliveriesDiscarded")
    assert recorded.payload["origin"] == f"shop@{socket.gethostname()} (sudo by alice)"


def test_a_skip_without_a_reason_or_of_a_settled_delivery_is_refused(troubled):
    assert refused("skip", str(troubled.pending.pk)).returncode == 2
    settled = refused("skip", str(troubled.done.pk), "--reason", "x")
    assert (str(settled), settled.returncode) == (
        f"delivery {troubled.done.pk} is done, not waiting (pending, failed or dead-lettered)",
        1,
    )
    assert statuses(troubled) == BEFORE


def test_a_delivery_in_a_workers_hands_is_left_alone(troubled):
    # given: a worker leased the failed one (its retry came) and is running it now
    Delivery.objects.filter(pk=troubled.failed.pk).update(
        lease="00000000-0000-0000-0000-000000000001", next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    error = refused("retry", str(troubled.failed.pk))

    assert str(error) == f"delivery {troubled.failed.pk} is in a worker's hands"
    assert StoredEvent.objects.filter(type="DeliveriesRetried").count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retry", "--since", "yesterday"], "--since: 'yesterday' is neither an age"),
        (["retry", "--policy", POLICY, "--actor", "@nobody"], "--actor: '@nobody' names no account"),
        (["skip", "--policy", POLICY, "--reason", " "], "--reason: say why"),
        (["discard", "--policy", POLICY, "--batch", "0"], "--batch: '0' is not a positive whole number"),
        (["retry", "--older-than", "1h", "--until", "2h"], "say the same"),
    ],
)
def test_bad_operation_input_exits_2_with_a_readable_message(troubled, args, message):
    error = refused(*args)

    assert message in str(error)
    assert error.returncode == 2
