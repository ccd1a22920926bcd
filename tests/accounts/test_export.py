"""The right of access: a person gets everything the product holds about
them as one JSON document (``GET accounts/me/export/``, ``manage.py
export_personal_data``), other people named by id only."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.commands import RegisterAccount
from accounts.models import Account
from accounts.values import Email, Password, Username
from messaging import bus
from messaging.features import access
from messaging.models import StoredEvent
from messaging.personal import FORGOTTEN
from orders.commands import ConfirmOrder
from tests.support.factories import AccountFactory, BookFactory
from tests.support.signup import sign_up
from tests.support.stock import place

pytestmark = pytest.mark.django_db

PASSWORD = "a long secret 123"
ALICE = {"username": "alice_export", "email": "alice.export@example.com"}
BOB = {"username": "bob_export", "email": "bob.export@example.com"}
CAROL = {"username": "carol_export", "email": "carol.export@example.com"}


def signed_in(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def register(person: dict) -> Account:
    return sign_up({**person, "password": PASSWORD})


def exported(client: APIClient, path: str = "/api/v1/accounts/me/export/") -> dict:
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    return answer.json()


def without_time(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "exported_at"}


@pytest.fixture
def alice():
    """Alice registered through the API; she follows Bob, Bob follows her,
    she blocks Carol, and she placed an order that staff confirmed."""
    alice, bob, carol = register(ALICE), register(BOB), register(CAROL)
    me = signed_in(alice)
    assert me.post(f"/api/v1/accounts/{bob.pk}/follow/").status_code == 201
    assert signed_in(bob).post(f"/api/v1/accounts/{alice.pk}/follow/").status_code == 201
    assert me.post(f"/api/v1/accounts/{carol.pk}/block/").status_code == 201
    (placed, *_) = bus.dispatch(place(alice, (BookFactory(title="Dune"), 2))).events
    bus.dispatch(ConfirmOrder(order_id=placed.order_id, actor_id=AccountFactory(is_staff=True).pk))
    return alice


def test_a_persons_export_holds_their_profile_follows_blocks_and_orders(alice):
    # given Alice, her follows, her block and her order (the fixture)
    bob, carol = Account.objects.get(username=BOB["username"]), Account.objects.get(username=CAROL["username"])

    # when she asks for her export
    document = exported(signed_in(alice))

    # then it holds her profile, the others by id, and her order with its items, total and dates
    assert document["account_id"] == str(alice.pk)
    assert document["profile"] | {"date_joined": None} == {
        "id": str(alice.pk),
        "username": ALICE["username"],
        "email": ALICE["email"],
        "date_joined": None,
        "is_active": True,
        "is_staff": False,
    }
    assert [follow["account_id"] for follow in document["following"]] == [str(bob.pk)]
    assert [follow["account_id"] for follow in document["followers"]] == [str(bob.pk)]
    assert [block["account_id"] for block in document["blocking"]] == [str(carol.pk)]
    (order,) = document["orders"]
    assert order["status"] == "CONFIRMED"
    assert [(item["title"], item["quantity"]) for item in order["items"]] == [("Dune", 2)]
    assert order["total"] == {"amount": "25.98", "currency": "USD"}
    assert [change["change"] for change in order["changes"]] == ["placed", "confirmed"]


def test_a_persons_export_holds_their_registration_and_their_commands_events_in_clear(alice):
    # given Alice (the fixture)

    # when she asks for her export
    document = exported(signed_in(alice))

    # then her registration reads her e-mail and username, and her own commands' events are there, in order
    types = [event["type"] for event in document["events"]]
    assert types[0] == "AccountRegistered"
    assert {"AccountFollowed", "AccountBlocked", "OrderPlaced"} <= set(types)
    registration = document["events"][0]
    assert registration["payload"] == {
        "account_id": str(alice.pk),
        "email": ALICE["email"],
        "username": ALICE["username"],
    }
    assert set(registration) == {"type", "version", "occurred_at", "event_id", "correlation_id", "payload"}


def test_a_persons_export_holds_no_other_persons_username_or_email(alice):
    # given Alice follows, is followed by and blocks people (the fixture)

    # when she asks for her export
    text = json.dumps(exported(signed_in(alice)))

    # then the others are there by id only: not their usernames, not their addresses
    for other in (BOB, CAROL):
        assert other["username"] not in text
        assert other["email"] not in text


def test_the_export_is_a_download_named_for_its_account(alice):
    # when Alice asks for her export
    answer = signed_in(alice).get("/api/v1/accounts/me/export/")

    # then it comes as a file to save, named for her account, kept by no cache
    assert answer["Content-Disposition"] == f'attachment; filename="personal-data-{alice.pk}.json"'
    assert answer["Cache-Control"] == "no-store"


def test_a_person_gets_their_own_export_by_their_id(alice):
    # when Alice asks for the export of her own id
    document = exported(signed_in(alice), f"/api/v1/accounts/{alice.pk}/export/")

    # then it is hers
    assert document["profile"]["username"] == ALICE["username"]


def test_another_persons_export_answers_404_to_a_non_staff_caller(alice):
    # given Bob, who is not staff
    bob = Account.objects.get(username=BOB["username"])

    # when he asks for Alice's export
    answer = signed_in(bob).get(f"/api/v1/accounts/{alice.pk}/export/")

    # then there is no such thing for him, and nothing of hers in the answer
    assert answer.status_code == 404
    assert ALICE["email"] not in answer.content.decode()


def test_staff_get_anyones_export(alice):
    # given a member of staff
    staff = AccountFactory(is_staff=True)

    # when they ask for Alice's export
    document = exported(signed_in(staff), f"/api/v1/accounts/{alice.pk}/export/")

    # then it is Alice's
    assert document["account_id"] == str(alice.pk)
    assert document["profile"]["email"] == ALICE["email"]


def test_the_export_answers_401_to_a_caller_not_signed_in(alice):
    # when someone not signed in asks for an export, their own or Alice's
    anonymous = APIClient()
    answers = [anonymous.get("/api/v1/accounts/me/export/"), anonymous.get(f"/api/v1/accounts/{alice.pk}/export/")]

    # then they must sign in first
    assert [answer.status_code for answer in answers] == [401, 401]


def test_the_export_of_no_account_answers_404_even_to_staff(db):
    # when staff ask for the export of an id no account has
    answer = signed_in(AccountFactory(is_staff=True)).get(
        "/api/v1/accounts/00000000-0000-0000-0000-000000000000/export/"
    )

    # then there is none
    assert answer.status_code == 404


def test_the_command_prints_the_same_document_as_the_api(alice):
    # given Alice's export through the API
    through_the_api = exported(signed_in(alice))

    # when an operator exports her by @username
    out = io.StringIO()
    call_command("export_personal_data", f"@{ALICE['username']}", stdout=out)

    # then the shell prints the same document
    assert without_time(json.loads(out.getvalue())) == without_time(through_the_api)


def test_the_command_takes_an_account_id_and_writes_a_file(alice, tmp_path):
    # when an operator exports Alice by her id into a file
    target = tmp_path / "alice.json"
    call_command("export_personal_data", str(alice.pk), "--output", str(target), stdout=io.StringIO())

    # then the file holds her document, readable by its owner only
    assert json.loads(target.read_text())["profile"]["email"] == ALICE["email"]
    assert target.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("user", ["@nobody_at_all", "00000000-0000-0000-0000-000000000000", "not-an-id"])
def test_the_command_exits_2_for_an_unknown_user(db, user):
    # when an operator exports someone who is not there
    with pytest.raises(CommandError) as refused:
        call_command("export_personal_data", user, stdout=io.StringIO())

    # then it exits 2 with a readable message
    assert refused.value.returncode == 2
    assert "account" in str(refused.value)


def test_after_forget_the_export_reads_placeholders(alice):
    # given Alice forgot herself
    me = signed_in(alice)
    assert me.post("/api/v1/accounts/me/forget/", {"password": PASSWORD}, format="json").status_code == 200

    # when staff export her account
    document = exported(signed_in(AccountFactory(is_staff=True)), f"/api/v1/accounts/{alice.pk}/export/")

    # then her registration reads placeholders, and her address and name are nowhere
    registration = next(event for event in document["events"] if event["type"] == "AccountRegistered")
    assert registration["payload"]["email"] == FORGOTTEN == "(forgotten)"
    assert registration["payload"]["username"] == FORGOTTEN
    assert ALICE["email"] not in json.dumps(document) and ALICE["username"] not in json.dumps(document)


def test_someone_elses_data_in_an_event_of_ones_own_command_is_withheld(db):
    # given a member of staff registered an account for Dora
    staff = AccountFactory(is_staff=True)
    bus.dispatch(
        RegisterAccount(
            email=Email("dora.export@example.com"),
            username=Username("dora_export"),
            password=Password(PASSWORD),
            actor_id=staff.pk,
        )
    )

    # when the member of staff exports their own data
    document = access.export(staff.pk)

    # then the registration their command made is there, Dora's address and name withheld
    (registration,) = [event for event in document["events"] if event["type"] == "AccountRegistered"]
    assert registration["payload"]["email"] == access.WITHHELD
    assert registration["payload"]["username"] == access.WITHHELD


def test_a_mail_queued_to_a_person_is_in_their_export_and_not_in_the_senders(db, django_capture_on_commit_callbacks):
    # given staff confirmed Alice's order, which queues a mail to her
    alice, staff = register(ALICE), AccountFactory(is_staff=True)
    (placed, *_) = bus.dispatch(place(alice, (BookFactory(), 1))).events
    with django_capture_on_commit_callbacks(execute=True):
        bus.dispatch(ConfirmOrder(order_id=placed.order_id, actor_id=staff.pk))

    # when Alice and the member of staff export their data
    hers, theirs = access.export(alice.pk), access.export(staff.pk)

    # then the mail is in hers, by the staff's command though it was, and in nobody else's
    assert [event["payload"]["recipient_id"] for event in hers["events"] if event["type"] == "MailQueued"] == [
        str(alice.pk)
    ]
    assert "MailQueued" not in [event["type"] for event in theirs["events"]]


def test_the_events_read_in_small_batches_are_all_there_in_order(alice):
    # when Alice's events are read two at a time
    in_twos = list(access.events_of(alice.pk, batch=2))

    # then they are the events read at once, oldest first
    assert in_twos == list(access.events_of(alice.pk))
    assert len(in_twos) > 2
    stored = StoredEvent.objects.filter(event_id__in=[event["event_id"] for event in in_twos]).order_by("position")
    assert [event["event_id"] for event in in_twos] == [
        str(event_id) for event_id in stored.values_list("event_id", flat=True)
    ]
