"""A database from before personal data was sealed: the migration turns its
clear copies into the declared form, in batches, and loses nothing; a run
stopped halfway resumes where it stopped."""

import io
import json
import uuid

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts import sealing
from accounts.models import Account
from messaging import personal, store
from messaging.models import Delivery, IdempotentResponse, PersonalDataKey, StoredEvent
from tests.accounts.test_forget import tables_mentioning

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS, NAME = "olga.old@example.com", "olgaoldname"
GONE_ADDRESS, GONE_NAME = "gus.gone@example.com", "gusgonename"


def old_event(event_type: str, payload: dict, *, version: int = 1, rejection: bool = False) -> StoredEvent:
    return StoredEvent.objects.create(
        event_id=uuid.uuid4(),
        type=event_type,
        version=version,
        payload=payload,
        is_rejection=rejection,
        occurred_at=timezone.now(),
        command_id=uuid.uuid4(),
        command_type="Old",
        correlation_id=uuid.uuid4(),
    )


@pytest.fixture
def before_sealing():
    """The schema of the release before, with what it stored in clear:
    Olga's registration, a mail to her and its error quoting her address, a
    reset mail, a refusal naming her, her stored registration answer; Gus
    forgotten while his erasure was still running."""
    call_command("migrate", "messaging", "0011", verbosity=0)
    # the deliveries as that release wrote them: its columns, not today's
    Delivery = (
        MigrationExecutor(connection)
        .loader.project_state(("messaging", "0011_event_log_indexes_leaner"))
        .apps.get_model("messaging", "Delivery")
    )
    # and the accounts as that release's table had them (no column added since)
    OldAccount = (
        MigrationExecutor(connection)
        .loader.project_state(("accounts", "0004_follow_counts_projected_inline"))
        .apps.get_model("accounts", "Account")
    )
    olga = OldAccount.objects.create(email=ADDRESS, username=NAME)
    gus = OldAccount.objects.create(email=f"forgotten-{uuid.uuid4().hex}@forgotten.invalid", username="forgotten-gus")
    registered = old_event("AccountRegistered", {"account_id": str(olga.pk), "email": ADDRESS, "username": NAME})
    mail = old_event(
        "MailQueued",
        {"message_id": "<1@shop>", "to": ADDRESS, "subject": "Your order", "body": f"Hello {NAME},\n\nShipped."},
    )
    Delivery.objects.create(
        event_id=mail.event_id, policy=sealing.SEND, status="done", last_error=f"refused {ADDRESS.upper()}: 550"
    )
    reset = old_event(
        "RenderedMailQueued", {"message_id": "<2@shop>", "renderer": "accounts.password_reset", "about": str(olga.pk)}
    )
    Delivery.objects.create(event_id=reset.event_id, policy=sealing.SEND_RENDERED, status="done")
    refusal = old_event(
        "FollowRejected",
        {"code": "blocked", "reason": f"You cannot follow {NAME}: there is a block between you.", "subject": {}},
        version=2,
        rejection=True,
    )
    answer = {"id": str(olga.pk), "username": NAME, "email": ADDRESS, "is_active": True, "date_joined": "2026-01-01"}
    IdempotentResponse.objects.create(
        actor="", idempotency_key="k", request_fingerprint="f", status=201, body=json.dumps(answer)
    )
    forgotten = old_event("AccountForgotten", {"account_id": str(gus.pk)})
    gus_mail = old_event("MailQueued", {"message_id": "<3@shop>", "to": GONE_ADDRESS, "subject": "Hi", "body": "Hi"})
    Delivery.objects.create(event_id=gus_mail.event_id, policy=sealing.SEND, status="pending")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messaging_erasure (erasure_id, address, address_placeholder, name, name_placeholder,"
            " batches_left, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [forgotten.event_id.hex, GONE_ADDRESS, gus.email, GONE_NAME, gus.username, 1, timezone.now()],
        )
    LogEntry.objects.create(
        user_id=olga.pk,
        content_type=ContentType.objects.get_for_model(Account),
        object_id=str(gus.pk),
        object_repr=GONE_NAME,
        action_flag=CHANGE,
    )
    return {"olga": olga, "gus": gus, "registered": registered, "mail": mail, "reset": reset, "refusal": refusal}


def test_the_migration_seals_every_clear_copy_and_loses_nothing(before_sealing, mailoutbox):
    olga, gus = before_sealing["olga"], before_sealing["gus"]

    # when the database is migrated
    call_command("migrate", verbosity=0, stdout=io.StringIO())

    # then neither Olga's address nor her name is stored in clear, nor Gus's
    assert [where for where in tables_mentioning(ADDRESS) if where != "accounts_account.email"] == []
    assert [where for where in tables_mentioning(NAME) if where != "accounts_account.username"] == []
    assert tables_mentioning(GONE_ADDRESS) == [] and tables_mentioning(GONE_NAME) == []

    # and everything reads as it was: her registration, her mail, the reset
    registered = store.load(StoredEvent.objects.get(pk=before_sealing["registered"].pk))
    assert (registered.email, registered.username) == (ADDRESS, NAME)
    mail = store.load(StoredEvent.objects.get(pk=before_sealing["mail"].pk))
    assert mail.recipient_id == olga.pk and mail.params["body"].startswith(f"Hello {NAME}")
    reset = store.load(StoredEvent.objects.get(pk=before_sealing["reset"].pk))
    assert (reset.recipient_id, reset.renderer, reset.about) == (olga.pk, "accounts.password_reset", olga.pk)
    assert Delivery.objects.get(event=reset.event_id).policy == sealing.SEND
    assert Delivery.objects.get(event=mail.event_id).last_error == f"refused <account {olga.pk}>: 550"
    assert NAME not in StoredEvent.objects.get(pk=before_sealing["refusal"].pk).payload["reason"]

    # and her stored answer replays her data; Gus is forgotten for good
    (answer,) = IdempotentResponse.objects.all()

    opened = personal.open_answer(json.loads(answer.body))
    assert (opened["username"], opened["email"]) == (NAME, ADDRESS)
    assert PersonalDataKey.objects.get(subject=gus.pk).key is None
    assert not LogEntry.objects.filter(object_id=str(gus.pk)).exists()

    # and every rule holds, each event loading
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    assert "hold personal data in clear" not in out.getvalue() and "does not load" not in out.getvalue()


def test_sealing_stopped_halfway_resumes_where_it_stopped(before_sealing):
    # given the migration applied, then three registrations written in clear by an older release
    call_command("migrate", verbosity=0, stdout=io.StringIO())
    accounts = [Account.objects.create(email=f"late{n}@example.com", username=f"late{n}") for n in range(3)]
    for account in accounts:
        old_event("AccountRegistered", {"account_id": str(account.pk), "email": account.email, "username": "x"})
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_invariants", stdout=out)
    assert "3 stored event(s) hold personal data in clear" in out.getvalue()

    # when sealing stops after its first batch of one, then runs again
    batches = sealing._batches(lambda: sealing._seal_registrations(1))
    assert next(batches) == 1
    call_command("seal_personal_data", "--batch", "1", stdout=out, stderr=io.StringIO())

    # then the other two were sealed, and nothing is left in clear
    assert "registrations sealed: 2" in out.getvalue()
    assert not StoredEvent.objects.filter(type="AccountRegistered", version=1).exists()
    assert tables_mentioning("late1@example.com") == ["accounts_account.email"]
