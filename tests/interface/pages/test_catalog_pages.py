"""The catalog pages and the staff console's books, through Django's test client."""

from decimal import Decimal
from uuid import uuid4

import pytest
from django.urls import reverse

from catalog.models import Book
from messaging.models import StoredEvent
from tests.support.factories import AccountFactory, BookFactory

pytestmark = pytest.mark.django_db


def key() -> dict:
    return {"idempotency_key": str(uuid4())}


@pytest.fixture
def staff_client(client):
    client.force_login(AccountFactory(username="operator", is_staff=True))
    return client


def add_book_data(**overrides) -> dict:
    return {
        "title": "Dune",
        "author": "Frank Herbert",
        "isbn": "978-0-441-01359-3",
        "price": "9.99",
        "currency": "EUR",
        "description": "",
        **key(),
        **overrides,
    }


def test_anyone_sees_the_books_with_their_stock_searchable_and_paged(client, django_assert_max_num_queries):
    BookFactory(title="Dune", inventory__on_hand=7, inventory__reserved=2)
    BookFactory.create_batch(21, author="Someone Else")

    with django_assert_max_num_queries(3):  # session, count, page
        response = client.get(reverse("catalog:books"))
    found = client.get(reverse("catalog:books"), {"q": "dune"})

    assert response.status_code == 200
    assert "catalog/books.html" in [t.name for t in response.templates]
    assert response.context["page"].paginator.count == 22 and len(response.context["page"]) == 20
    [dune] = found.context["page"]
    assert dune.inventory.available == 5 and "5 in stock" in found.text


def test_a_book_page_shows_its_stock_and_offers_the_order_form_to_the_signed_in(client):
    book = BookFactory(title="Dune", inventory__on_hand=3)
    url = reverse("catalog:book", args=[book.pk])

    visitor = client.get(url)
    client.force_login(AccountFactory())
    customer = client.get(url)

    assert visitor.status_code == customer.status_code == 200
    assert "catalog/book.html" in [t.name for t in visitor.templates]
    assert "3 in stock" in visitor.text and reverse("orders:place") not in visitor.text
    assert reverse("orders:place") in customer.text and 'name="idempotency_key"' in customer.text


def test_an_unknown_book_is_404(client):
    assert client.get(reverse("catalog:book", args=[uuid4()])).status_code == 404


def test_staff_add_a_book_through_add_book_and_land_on_its_page_with_its_initial_stock(
    staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # as the commit would: the stocking policy runs
        response = staff_client.post(reverse("catalog:staff_books"), add_book_data())

    book = Book.objects.get()
    assert response.status_code == 302 and response.url == reverse("catalog:book", args=[book.pk])
    assert [e.type for e in StoredEvent.objects.all()] == ["BookAdded", "BookStocked"]
    assert StoredEvent.objects.get(type="BookAdded").command_type == "AddBook"
    assert (book.price_amount, book.price_currency, book.isbn) == (Decimal("9.99"), "EUR", "9780441013593")
    assert "10 in stock" in staff_client.get(response.url).text


def test_a_refused_book_is_told_and_the_form_kept_with_a_fresh_key(staff_client):
    BookFactory(isbn="9780441013593")
    data = add_book_data()

    response = staff_client.post(reverse("catalog:staff_books"), data)

    assert response.status_code == 200
    assert "A book with ISBN 9780441013593 is already in the catalog." in response.text
    assert StoredEvent.objects.get().payload["code"] == "duplicate_isbn"
    assert response.context["form"]["idempotency_key"].value() != data["idempotency_key"]


def test_a_bad_isbn_or_price_is_a_field_error_and_nothing_is_dispatched(staff_client):
    response = staff_client.post(reverse("catalog:staff_books"), add_book_data(isbn="123", price="1.999"))

    assert set(response.context["form"].errors) == {"isbn", "price"}
    assert not StoredEvent.objects.exists()


def test_staff_restock_a_book_through_restock_book(staff_client):
    book = BookFactory(inventory__on_hand=2)

    response = staff_client.post(reverse("catalog:restock", args=[book.pk]), {"quantity": 5, **key()}, follow=True)

    event = StoredEvent.objects.get()
    assert (event.type, event.command_type, event.payload["on_hand"]) == ("BookRestocked", "RestockBook", 7)
    assert "Restocked 5 copies." in response.text
    assert "catalog/staff_books.html" in [t.name for t in response.templates]


def test_a_restock_of_nothing_is_told_and_not_dispatched(staff_client):
    book = BookFactory()

    response = staff_client.post(reverse("catalog:restock", args=[book.pk]), {"quantity": 0, **key()}, follow=True)

    assert "Quantity: Ensure this value is greater than or equal to 1." in response.text
    assert not StoredEvent.objects.exists()


@pytest.mark.parametrize("method, name, args", [("get", "staff_books", []), ("post", "restock", [uuid4()])])
def test_the_console_is_for_staff_only(client, method, name, args):
    url = reverse(f"catalog:{name}", args=args)

    anonymous = getattr(client, method)(url)
    client.force_login(AccountFactory())
    customer = getattr(client, method)(url, {"quantity": 1, **key()})

    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("accounts:log_in"))
    assert customer.status_code == 403
    assert not StoredEvent.objects.exists()


def test_the_staff_console_links_to_books_orders_trace_and_admin(staff_client):
    response = staff_client.get(reverse("staff_console"))

    assert response.status_code == 200
    for name in ("catalog:staff_books", "orders:staff_orders", "console:trace_index", "admin:index"):
        assert reverse(name) in response.text


def test_the_books_and_a_books_page_show_its_cover_and_description(client):
    book = BookFactory(title="Dune", author="Frank Herbert", isbn="9780441013593", description="Spice and sand.")

    listed = client.get(reverse("catalog:books")).text
    page = client.get(reverse("catalog:book", args=[book.pk])).text

    for html in (listed, page):
        assert '<svg class="cover"' in html and 'aria-label="Cover of Dune"' in html
        assert "Spice and sand." in html
        assert ' style="' not in html.split('<svg class="cover"', 1)[1].split("</svg>", 1)[0]
