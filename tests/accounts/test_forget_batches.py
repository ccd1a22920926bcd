"""Forgetting a person with many copies: the erasure runs in bounded
batches, each its own delivery and transaction, exactly once even across a
crash, and leaves the person's address nowhere."""

import dataclasses
import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.commands import ForgetAccount
from accounts.models import Account
from messaging import bus, erasure
from messaging.models import Delivery, Erasure, IdempotentResponse, StoredEvent
from messaging.registry import registry
from messaging.testing import relay
from tests.accounts.test_forget import tables_mentioning

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL, USERNAME = "yara.many@example.com", "yara_many"
BATCH = 20
COPIES = 150  # of each kind


class Ledger:
    """Counts the rows every statement writes (``connection.execute_wrapper``)."""

    def __init__(self):
        self.rows = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        verb = sql.lstrip().split(" ", 1)[0].upper()
        if verb == "INSERT":
            self.rows += len(re.findall(r"\)\s*,\s*\(", sql)) + 1
        elif verb in ("UPDATE", "DELETE"):
            self.rows += max(context["cursor"].rowcount, 0)
        return result


@pytest.fixture
def yara(settings):
    """Yara, whose address and name were copied ``COPIES`` times into mails
    (half of them still unsent), stored answers, the admin's log and
    delivery errors."""
    settings.FANOUT_BATCH_SIZE = BATCH
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    yara = Account.objects.create(username=USERNAME, email=EMAIL)
    now = timezone.now()
    mails = StoredEvent.objects.bulk_create(
        StoredEvent(
            event_id=uuid.uuid4(),
            type="MailQueued",
            payload={"message_id": f"<{n}@shop>", "to": EMAIL, "subject": "Hi", "body": f"Hello {USERNAME},"},
            occurred_at=now,
            command_id=uuid.uuid4(),
            command_type="QueueMail",
            correlation_id=uuid.uuid4(),
        )
        for n in range(COPIES)
    )
    Delivery.objects.bulk_create(
        Delivery(
            event_id=mail.event_id,
            policy="messaging.outbox.send_queued_mail",
            outside=True,
            status="done" if n % 2 else "pending",
            next_attempt_at=now + timedelta(days=1),  # unsent, and not due during the test
            last_error=f"the server refused <{EMAIL}>" if n % 2 else "",
        )
        for n, mail in enumerate(mails)
    )
    IdempotentResponse.objects.bulk_create(
        IdempotentResponse(
            actor=str(yara.pk),
            idempotency_key=f"key-{n}",
            request_fingerprint="x",
            status=201,
            body=json.dumps({"email": EMAIL, "username": USERNAME}),
        )
        for n in range(COPIES)
    )
    accounts = ContentType.objects.get_for_model(Account)
    staff = Account.objects.create(username="operator", email="operator@example.com", is_staff=True)
    LogEntry.objects.bulk_create(
        LogEntry(
            user=staff,
            content_type=accounts,
            object_id=str(yara.pk),
            object_repr=USERNAME,
            action_flag=CHANGE,
            change_message=f"Wrote to {EMAIL}",
        )
        for _ in range(COPIES)
    )
    return yara


def erased_rows() -> dict[str, int]:
    totals = {}
    for payload in StoredEvent.objects.filter(type="CopiesErased").values_list("payload", flat=True):
        totals[payload["kind"]] = totals.get(payload["kind"], 0) + payload["rows"]
    return totals


EXPECTED = {"events": COPIES, "stored answers": COPIES, "delivery errors": COPIES // 2, "admin log entries": COPIES}


def test_each_batch_of_an_erasure_writes_at_most_a_batch_of_rows(yara, monkeypatch):
    ledger, written = Ledger(), []
    erase_batch = registry.handlers[erasure.EraseBatch]

    def watched(command):
        before = ledger.rows
        events = erase_batch(command)
        written.append(ledger.rows - before)
        return events

    monkeypatch.setitem(registry.handlers, erasure.EraseBatch, watched)
    with connection.execute_wrapper(ledger):
        assert bus.dispatch(ForgetAccount(account_id=yara.pk)).ok
        relay("--batch", str(BATCH))

    assert len(written) > COPIES * 3 // BATCH  # it did run in batches
    assert max(written) <= BATCH + 1  # a batch of rows, and the erasure's own count
    assert erased_rows() == EXPECTED
    assert tables_mentioning(EMAIL) == [] and tables_mentioning(USERNAME) == []
    assert not Erasure.objects.exists()
    assert StoredEvent.objects.filter(type="ErasureCompleted").count() == 1
    assert not Delivery.objects.filter(policy="messaging.outbox.send_queued_mail", status="pending").exists()


class Crash(BaseException):
    """The worker's process dies (nothing in the kernel catches it)."""


def test_a_crash_half_way_resumes_and_erases_each_copy_once(yara, monkeypatch):
    answers = erasure.KINDS["stored answers"]
    calls = []

    def dies_on_the_third_batch(found, ids):
        calls.append(len(ids))
        if len(calls) == 3:
            raise Crash
        return answers.redact(found, ids)

    monkeypatch.setitem(erasure.KINDS, "stored answers", dataclasses.replace(answers, redact=dies_on_the_third_batch))
    bus.dispatch(ForgetAccount(account_id=yara.pk))
    with pytest.raises(Crash):
        relay("--batch", str(BATCH))
    assert Erasure.objects.exists() and tables_mentioning(EMAIL)

    # the worker is gone: its leases run out, and another worker takes over
    monkeypatch.setitem(erasure.KINDS, "stored answers", answers)
    Delivery.objects.filter(status="pending", outside=False).update(next_attempt_at=timezone.now())
    relay("--batch", str(BATCH))

    assert erased_rows() == EXPECTED
    assert tables_mentioning(EMAIL) == [] and tables_mentioning(USERNAME) == []
    assert not Erasure.objects.exists()
    assert set(Delivery.objects.filter(outside=False).values_list("status", flat=True)) == {"done"}
    call_command("check_invariants", stdout=open("/dev/null", "w"))
