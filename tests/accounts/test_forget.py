"""Forgetting a person: their key is thrown away, so every copy of their data
reads as a placeholder at once, while no other person's byte changes, every
event still loads, every stored answer still replays and every rule holds."""

import io
import json
import logging

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts import tokens
from accounts.commands import FollowAccount, ForgetAccount
from accounts.events import AccountDeactivated, AccountForgotten
from accounts.models import Account, ApiToken
from messaging import bus, store
from messaging.models import Delivery, IdempotentResponse, StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder
from tests.support.factories import AccountFactory, BookFactory
from tests.support.signup import sign_up
from tests.support.stock import place

pytestmark = pytest.mark.django_db

EMAIL, USERNAME, PASSWORD = "zelda.forget@example.com", "zelda_forget", "a long secret 123"


def tables_mentioning(text: str) -> list[str]:
    """``table.column`` for every column of every table holding ``text``,
    whatever its case (each column read as text)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                quote = connection.ops.quote_name
                cursor.execute(
                    f"SELECT COUNT(*) FROM {quote(table)} WHERE LOWER(CAST({quote(column.name)} AS TEXT)) LIKE %s",
                    [f"%{text.lower()}%"],
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column.name}")
    return found


def signed_in(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def register(username: str, email: str, key: str) -> Account:
    return sign_up({"email": email, "username": username, "password": PASSWORD}, key=key)


def history() -> dict:
    """Every stored event's payload, stored answer's body and delivery error, as stored."""
    return {
        "events": {row.position: json.dumps(row.payload, sort_keys=True) for row in StoredEvent.objects.all()},
        "answers": dict(IdempotentResponse.objects.values_list("pk", "body")),
        "errors": dict(Delivery.objects.values_list("pk", "last_error")),
    }


def rules_hold() -> bool:
    out = io.StringIO()
    call_command("check_invariants", stdout=out)
    return out.getvalue().startswith("all ")


@pytest.fixture
def zelda(settings):
    """Zelda registered through the API (its answer stored for its key),
    follows and is followed by Bob, had an order confirmed (a mail to her),
    and an admin's log entry names her."""
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    zelda, bob = register(USERNAME, EMAIL, "signup-z"), AccountFactory(username="bob")
    bus.dispatch(FollowAccount(follower_id=zelda.pk, followee_id=bob.pk))
    bus.dispatch(FollowAccount(follower_id=bob.pk, followee_id=zelda.pk))
    (placed, *_) = bus.dispatch(place(zelda, (BookFactory(), 1))).events
    bus.dispatch(ConfirmOrder(order_id=placed.order_id))
    relay()
    tokens.issue(zelda)
    LogEntry.objects.create(
        user_id=bob.pk,
        content_type=ContentType.objects.get_for_model(Account),
        object_id=str(zelda.pk),
        object_repr=USERNAME,
        action_flag=CHANGE,
        change_message=f"Looked at {EMAIL}",
    )
    return zelda


def test_a_forgotten_person_is_found_nowhere_and_everything_still_reads(zelda, mailoutbox, caplog):
    # given a wrong password is refused
    me = signed_in(zelda)
    assert me.post("/api/v1/accounts/me/forget/", {"password": "not it"}, format="json").status_code == 400
    mailed = len(mailoutbox)

    # when Zelda forgets herself, her password given again
    caplog.set_level(logging.DEBUG)
    answer = me.post("/api/v1/accounts/me/forget/", {"password": PASSWORD}, format="json")
    relay()

    # then her e-mail and username are nowhere in the database, the logs or a mail sent since
    assert answer.status_code == 200 and answer.json()["is_active"] is False
    assert tables_mentioning(EMAIL) == []
    assert tables_mentioning(USERNAME) == []
    assert EMAIL not in caplog.text and USERNAME not in caplog.text
    assert all(EMAIL not in mail.message().as_string() for mail in mailoutbox[mailed:])
    zelda.refresh_from_db()
    assert not zelda.has_usable_password() and zelda.username.startswith("forgotten-")
    assert not ApiToken.objects.filter(user=zelda).exists()
    assert not LogEntry.objects.filter(object_id=str(zelda.pk)).exists()

    # and every event loads, hers with placeholders, and every rule holds
    registered = StoredEvent.objects.get(type="AccountRegistered", payload__account_id=str(zelda.pk))
    assert store.load(registered).email == "(forgotten)"
    assert [store.load(row) for row in StoredEvent.objects.all()]
    assert rules_hold()

    # and her profile, the API's reads and the trace still work
    bob = Account.objects.get(username="bob")
    reader, staff = signed_in(bob), AccountFactory(username="operator", is_staff=True)
    assert reader.get(f"/api/v1/accounts/{zelda.pk}/").json()["username"] == zelda.username
    assert reader.get(f"/api/v1/accounts/{bob.pk}/").json()["followers_count"] == 0
    page = APIClient()
    page.force_login(bob)
    assert page.get(f"/people/{zelda.username}/").status_code == 200
    page.force_login(staff)
    assert page.get(f"/trace/{registered.correlation_id}/").status_code == 200


def test_her_stored_answer_replays_with_placeholders(zelda):
    # given an answer holding Zelda's data, stored for its key (her deactivation, with her e-mail)
    first = signed_in(zelda).post("/api/v1/accounts/me/deactivate/", HTTP_IDEMPOTENCY_KEY="leave-z")
    assert first.json()["email"] == EMAIL

    # when she is forgotten
    bus.dispatch(ForgetAccount(account_id=zelda.pk))

    # then the same request replays the answer, her data as placeholders
    again = signed_in(zelda).post("/api/v1/accounts/me/deactivate/", HTTP_IDEMPOTENCY_KEY="leave-z")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == str(zelda.pk)
    assert again.json()["email"] == again.json()["username"] == "(forgotten)"


def test_forgetting_deactivates_once_and_a_second_time_does_nothing(scenario, zelda):
    scenario.when(ForgetAccount(account_id=zelda.pk)).then_events(AccountDeactivated, AccountForgotten)

    scenario.when(ForgetAccount(account_id=zelda.pk)).then_events()


def test_the_forget_me_page_forgets_its_person_after_their_password(client, zelda):
    client.force_login(zelda)
    question = client.get("/account/forget/")
    key = question.context["form"]["idempotency_key"].value()

    refused = client.post("/account/forget/", {"password": "not it", "idempotency_key": key})
    assert refused.status_code == 200 and Account.objects.get(pk=zelda.pk).is_active

    done = client.post("/account/forget/", {"password": PASSWORD, "idempotency_key": key})
    assert done.status_code == 302 and not Account.objects.get(pk=zelda.pk).is_active
    assert not client.get("/orders/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("USD", id="a-currency-every-price-holds"),
        pytest.param("blocked", id="a-refusal-code"),
        pytest.param("Hello", id="a-word-of-every-mail"),
        pytest.param("Gatsby", id="a-word-of-a-title"),
        pytest.param("9780743273565", id="an-isbn"),
    ],
)
def test_forgetting_a_person_changes_no_other_persons_byte(username, settings, mailoutbox):
    # given Alice, whose address ends with the one about to be forgotten, and
    # her history: a registration, an order and its confirmation through the
    # API with stored answers, a refused follow, a mail
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    alice = register("alice", "alice@example.com", "signup-a")
    forgotten = register(username, "e@example.com", "signup-e")
    book = BookFactory(title="The Great Gatsby", isbn="9780743273565")
    staff = AccountFactory(username="operator", is_staff=True)
    order = {"items": [{"book_id": str(book.pk), "quantity": 1}]}
    placed = signed_in(alice).post("/api/v1/orders/", order, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    confirmed = signed_in(staff).post(
        f"/api/v1/orders/{placed.json()['id']}/confirm/", format="json", HTTP_IDEMPOTENCY_KEY="confirm-1"
    )
    signed_in(forgotten).post(f"/api/v1/accounts/{alice.pk}/block/", format="json")
    refused = signed_in(alice).post(
        f"/api/v1/accounts/{forgotten.pk}/follow/", format="json", HTTP_IDEMPOTENCY_KEY="follow-1"
    )
    assert (placed.status_code, confirmed.status_code, refused.status_code) == (201, 200, 409)
    relay()
    before = history()

    # when the other person forgets themselves
    assert (
        signed_in(forgotten).post("/api/v1/accounts/me/forget/", {"password": PASSWORD}, format="json").status_code
        == 200
    )
    relay()

    # then not one byte of the history that was there changed
    after = history()
    assert {position: after["events"][position] for position in before["events"]} == before["events"]
    assert {pk: after["answers"][pk] for pk in before["answers"]} == before["answers"]
    assert {pk: after["errors"][pk] for pk in before["errors"]} == before["errors"]

    # and every event loads, Alice's registration as she made it
    loaded = [store.load(row) for row in StoredEvent.objects.all()]
    (hers,) = [event for event in loaded if getattr(event, "account_id", None) == alice.pk and hasattr(event, "email")]
    assert (hers.email, hers.username) == ("alice@example.com", "alice")

    # and every answer Alice kept replays as it was given, without a 5xx
    replayed = signed_in(alice).post("/api/v1/orders/", order, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert replayed.status_code == 201 and replayed.json() == placed.json()
    again = signed_in(alice).post(
        f"/api/v1/accounts/{forgotten.pk}/follow/", format="json", HTTP_IDEMPOTENCY_KEY="follow-1"
    )
    assert again.status_code == 409 and again.json() == refused.json()
    assert username not in refused.json()["detail"]

    # and Alice's mail went to her own address, and every rule holds
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]]
    assert rules_hold()
