"""manage.py deliveries: list, show, retry and discard from the shell."""

import json

import pytest

from accounts.commands import BlockAccount
from messaging import relay
from messaging.delivery import claiming
from messaging.models import Delivery
from tests.support.dead_letters import POLICY
from tests.support.deliveries_command import deliveries, refused
from tests.support.factories import AccountFactory
from tests.support.lag import IN_DATABASE, OUTSIDE


def test_a_dead_letter_is_listed_in_an_aligned_table(dead):
    out, _ = deliveries("list", "--status", "dead")

    header, row, *rest = out.splitlines()
    assert header.split() == [
        "id",
        "status",
        "policy",
        "event",
        "attempts",
        "age",
        "kind",
        "held",
        "by",
        "last",
        "error",
    ]
    assert row.split()[:8] == [str(dead.row.pk), "dead", POLICY, "AccountFollowed", "1", "0s", "db", "-"]
    assert row.endswith("ConnectionError: the notification service is down")
    assert header.index("policy") == row.index(POLICY)  # the columns line up
    assert rest == []


def test_a_dead_letter_is_listed_as_json_lines_for_scripts(dead):
    out, _ = deliveries("list", "--status", "dead", "--json")

    (line,) = out.splitlines()
    record = json.loads(line)
    assert record["id"] == dead.row.pk
    assert (record["status"], record["policy"], record["event_type"]) == ("dead", POLICY, "AccountFollowed")
    assert record["last_error"] == "ConnectionError: the notification service is down"
    assert record["trace"] == f"/trace/{dead.row.event.correlation_id}/"


def test_statuses_combine_repeated_and_comma_separated(dead, scenario):
    scenario.when(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk))  # its policy is done

    out, _ = deliveries("list", "--status", "dead,pending", "--status", "done", "--json")

    statuses = {json.loads(line)["status"] for line in out.splitlines()}
    assert statuses == {"dead", "done"}  # nothing is pending


def test_a_listing_cut_by_its_limit_says_so(dead, scenario):
    scenario.when(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk))

    out, err = deliveries("list", "--limit", "1")

    assert len(out.splitlines()) == 2
    assert "showing the newest 1" in err


def test_show_prints_every_field_the_payload_and_the_trace_page(dead):
    out, _ = deliveries("show", str(dead.row.pk))

    assert f"delivery:        {dead.row.pk}" in out
    assert "status:          dead (dead-lettered)" in out
    assert "last error:      ConnectionError: the notification service is down" in out
    assert f"event:           AccountFollowed v1 ({dead.row.event_id})" in out
    assert f"trace:           /trace/{dead.row.event.correlation_id}/" in out
    assert f'"followee_id": "{dead.row.event.payload["followee_id"]}"' in out


def test_retry_after_the_fault_is_fixed_delivers_the_dead_letter_exactly_once(dead):
    # given
    dead.service.fix()

    # when
    out, _ = deliveries("retry", str(dead.row.pk))
    again = refused("retry", str(dead.row.pk))

    # then
    assert f"delivery {dead.row.pk} (AccountFollowed -> {POLICY}): done" in out
    assert "retried 1 failed or dead-lettered deliveries: 1 done" in out
    assert dead.service.handled == [dead.row.event_id]
    assert (str(again), again.returncode) == (f"delivery {dead.row.pk} is done, not failed or dead-lettered", 1)


def test_a_retry_that_fails_again_prints_the_error_and_exits_1(dead):
    error = refused("retry", "--all-dead")

    assert error.returncode == 1
    assert "1 of 1 failed again" in str(error)
    assert Delivery.objects.get(pk=dead.row.pk).status == Delivery.Status.DEAD  # one attempt allowed: dead again


def test_a_retry_a_live_worker_took_meanwhile_is_reported_as_taken_not_failed(dead, monkeypatch):
    # given: a relay worker that claims what is due the moment the retry has reopened it
    dead.service.fix()
    deliver = relay.deliver

    def claimed_then_attempted(delivery_id):
        claiming.claim_due(100)  # the live relay's round, between the reopening's commit and the shell's attempt
        return deliver(delivery_id)

    monkeypatch.setattr(relay, "deliver", claimed_then_attempted)

    # when
    out, _ = deliveries("retry", str(dead.row.pk))

    # then: no failure reported, nothing run twice
    assert f"delivery {dead.row.pk} (AccountFollowed -> {POLICY}): taken by a worker meanwhile" in out
    assert "retried 1 failed or dead-lettered deliveries: 1 taken by a worker meanwhile" in out
    assert dead.service.handled == []


def test_retry_all_dead_takes_the_filters(dead):
    dead.service.fix()

    out, _ = deliveries("retry", "--all-dead", "--policy", "some.other.policy")
    assert out == "no dead-lettered delivery matches\n"

    out, _ = deliveries("retry", "--all-dead", "--event-type", "AccountFollowed")
    assert "1 done" in out


def test_discard_keeps_the_row_marked_discarded_and_it_is_no_longer_dead(dead):
    out, _ = deliveries("discard", str(dead.row.pk))

    dead.row.refresh_from_db()
    assert dead.row.status == Delivery.Status.DISCARDED
    assert f"discarded delivery {dead.row.pk} (AccountFollowed -> {POLICY}) after 1 attempt(s)" in out
    assert deliveries("list", "--status", "dead") == ("", "no delivery matches\n")
    assert refused("retry", str(dead.row.pk)).returncode == 1
    assert dead.service.handled == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "999999"], "no delivery 999999"),
        (["retry", "999999"], "no delivery 999999"),
        (["discard", "12x"], "'12x' is not a positive whole number"),
        (["retry"], "name the deliveries by id, or select them: --policy, --since, --until"),
        (["discard", "1", "--all-dead"], "not both"),
        (["retry", "1", "--policy", "x"], "with ids, name exactly the deliveries meant"),
        (["list", "--status", "lost"], "no status lost; the statuses: pending, failed, done, dead, discarded"),
        (["schedules", "--status", "dispatched"], "no status dispatched; the statuses: waiting, done, cancelled, dead"),
        (["list", "--older-than", "soon"], "--older-than: 'soon' is not an age"),
        (["list", "--correlation-id", "nope"], "--correlation-id: 'nope' is not a UUID"),
        (["list", "--limit", "0"], "--limit: '0' is not a positive whole number"),
    ],
)
def test_bad_input_exits_2_with_a_readable_message(db, args, message):
    error = refused(*args)

    assert message in str(error)
    assert error.returncode == 2


def test_lag_is_an_aligned_table_per_policy_and_lane(lagging):
    out, _ = deliveries("lag")

    header, *rows = out.splitlines()
    assert header.split() == [
        "policy",
        "lane",
        "waiting",
        "failed",
        "due",
        "oldest",
        "due",
        "held",
        "done/5m",
        "per",
        "min",
    ]
    cells = {row.split()[0]: row.split() for row in rows}
    assert cells[IN_DATABASE][1:5] == ["database", "2", "1", "1"]
    assert cells[IN_DATABASE][5] == "2m"  # due for 120s, by the database's clock
    assert cells[OUTSIDE][1:5] == ["outside", "2", "0", "2"]
    assert cells[OUTSIDE][6:] == ["1", "1", "0.2"]
    assert header.index("lane") == rows[0].index(rows[0].split()[1])  # the columns line up


def test_lag_as_json_lines_for_scripts(lagging):
    out, _ = deliveries("lag", "--json")

    records = {record["policy"]: record for record in map(json.loads, out.splitlines())}
    assert records[OUTSIDE] == {
        "policy": OUTSIDE, "lane": "outside", "waiting": 2, "failed": 0, "due": 2,
        "oldest_due_seconds": records[OUTSIDE]["oldest_due_seconds"], "held": 1,
        "done_recently": 1, "per_minute": 0.2,
    }  # fmt: skip
    assert 120 <= records[IN_DATABASE]["oldest_due_seconds"] < 130


def test_lag_with_nothing_behind_says_so(db):
    assert deliveries("lag") == ("", "no delivery waiting or done in the last 5 minutes\n")
