"""The catalog admin: read-only rows, restocking as an action."""

import pytest
from django.urls import reverse

from catalog.models import Inventory
from messaging.models import StoredEvent
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(AccountFactory(username="operator", is_staff=True, is_superuser=True))


@pytest.mark.parametrize("model", ["book", "inventory", "reservation"])
def test_every_catalog_model_is_listed_searchable_and_read_only(client, operator, model):
    BookFactory(title="Dune")

    assert client.get(reverse(f"admin:catalog_{model}_changelist"), {"q": "dune"}).status_code == 200
    assert client.get(reverse(f"admin:catalog_{model}_add")).status_code == 403


def test_restock_asks_how_many_then_dispatches_restock_book_for_each_book(client, operator):
    dune, emma = BookFactory(title="Dune", inventory__on_hand=1), BookFactory(title="Emma", inventory__on_hand=2)
    selection = {"action": "restock", "_selected_action": [dune.pk, emma.pk]}

    question = client.post(reverse("admin:catalog_book_changelist"), selection)
    answer = client.post(reverse("admin:catalog_book_changelist"), {**selection, "quantity": 5}, follow=True)

    assert "admin/catalog/book/restock.html" in [t.name for t in question.templates]
    assert [e.command_type for e in StoredEvent.objects.all()] == ["RestockBook", "RestockBook"]
    assert sorted(Inventory.objects.values_list("on_hand", flat=True)) == [6, 7]
    assert "Restocked 2 book(s), 5 copies each." in answer.text
