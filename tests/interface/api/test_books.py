"""The catalog rows of the REST contract."""

import pytest

from catalog.models import Book
from tests.support.factories import AccountFactory, BookFactory

BOOK_FIELDS = {"id", "title", "author", "isbn", "price", "currency", "stock"}
GATSBY = {"title": "The Great Gatsby", "author": "F. Scott Fitzgerald", "isbn": "978-0-7432-7356-5", "price": "12.99"}


def test_anyone_lists_the_books_by_title_with_their_stock(db, anonymous):
    BookFactory(title="Dune", inventory__on_hand=3)
    BookFactory(title="Beloved", inventory__on_hand=5, inventory__reserved=2)

    response = anonymous.get("/api/v1/books/")

    assert response.status_code == 200
    assert [(row["title"], row["stock"]) for row in response.data["results"]] == [("Beloved", 3), ("Dune", 3)]
    assert set(response.data["results"][0]) == BOOK_FIELDS


def test_the_books_api_searches_title_author_and_isbn_as_the_page_does(db, anonymous):
    # given
    BookFactory(title="Dune", author="Frank Herbert")
    BookFactory(title="Beloved", author="Toni Morrison", isbn="9781400033416")
    BookFactory(title="Sula", author="Toni Morrison")

    # when
    by_author = anonymous.get("/api/v1/books/", {"search": "morrison"})
    by_isbn = anonymous.get("/api/v1/books/", {"search": "140003"})

    # then
    assert [row["title"] for row in by_author.data["results"]] == ["Beloved", "Sula"]
    assert [row["title"] for row in by_isbn.data["results"]] == ["Beloved"]


def test_the_books_api_lists_only_books_in_stock_when_asked(db, anonymous):
    # given
    BookFactory(title="Dune", inventory__on_hand=3)
    BookFactory(title="Beloved", inventory__on_hand=2, inventory__reserved=2)

    # when
    in_stock = anonymous.get("/api/v1/books/", {"in_stock": "true"})
    sold_out = anonymous.get("/api/v1/books/", {"in_stock": "false"})

    # then
    assert [row["title"] for row in in_stock.data["results"]] == ["Dune"]
    assert [row["title"] for row in sold_out.data["results"]] == ["Beloved"]


@pytest.mark.parametrize(
    ("ordering", "titles"),
    [
        ("title", ["Beloved", "Dune", "Sula"]),
        ("-title", ["Sula", "Dune", "Beloved"]),
        ("price", ["Sula", "Beloved", "Dune"]),
        ("-price", ["Dune", "Beloved", "Sula"]),
        ("stock", ["Dune", "Sula", "Beloved"]),
        ("-stock", ["Beloved", "Sula", "Dune"]),
        ("author", ["Dune", "Beloved", "Sula"]),
    ],
)
def test_the_books_api_sorts_by_what_is_asked(db, anonymous, ordering, titles):
    # given
    BookFactory(title="Dune", author="Herbert", price_amount="20.00", inventory__on_hand=1)
    BookFactory(title="Beloved", author="Morrison", price_amount="10.00", inventory__on_hand=9)
    BookFactory(title="Sula", author="Morrison", price_amount="5.00", inventory__on_hand=4)

    # when
    response = anonymous.get("/api/v1/books/", {"ordering": ordering})

    # then
    assert [row["title"] for row in response.data["results"]] == titles


@pytest.mark.parametrize(
    "query", [{"in_stock": "perhaps"}, {"ordering": "isbn"}, {"ordering": "-"}, {"search": "x" * 101}]
)
def test_an_unknown_books_filter_value_answers_400_naming_it(db, anonymous, query):
    response = anonymous.get("/api/v1/books/", query)

    assert (response.status_code, response.data["code"]) == (400, "invalid")
    assert set(response.data["fields"]) == set(query)


def test_a_book_shows_its_price_as_a_decimal_string_and_its_currency(db, anonymous):
    book = BookFactory(price_amount="7.50", price_currency="EUR", isbn="9780743273565")

    response = anonymous.get(f"/api/v1/books/{book.pk}/")

    assert response.status_code == 200
    assert (response.data["price"], response.data["currency"], response.data["isbn"]) == (
        "7.50",
        "EUR",
        "9780743273565",
    )


def test_an_unknown_book_answers_404(db, anonymous):
    assert anonymous.get("/api/v1/books/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_staff_add_a_book_and_get_201_with_it(staff, signed_in):
    response = signed_in(staff).post("/api/v1/books/", {**GATSBY, "currency": "eur"}, format="json")

    assert response.status_code == 201
    assert set(response.data) == BOOK_FIELDS
    assert (response.data["isbn"], response.data["price"], response.data["currency"]) == (
        "9780743273565",
        "12.99",
        "EUR",
    )
    assert Book.objects.get(pk=response.data["id"]).title == "The Great Gatsby"


@pytest.mark.parametrize(
    ("fields", "invalid"),
    [
        ({"isbn": "978-0-7432-7356-4"}, "isbn"),
        ({"price": "-1"}, "price"),
        ({"price": "12.999"}, "price"),
        ({"price": "1e400"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"currency": "XXX"}, "currency"),
        ({"title": ""}, "title"),
        ({"author": None}, "author"),
    ],
)
def test_adding_a_book_with_an_invalid_field_answers_400_naming_it(staff, signed_in, fields, invalid):
    response = signed_in(staff).post("/api/v1/books/", {**GATSBY, **fields}, format="json")

    assert response.status_code == 400
    assert invalid in response.data["fields"]
    assert not Book.objects.exists()


def test_a_price_the_shop_refuses_answers_400_invalid_price(staff, signed_in):
    response = signed_in(staff).post("/api/v1/books/", {**GATSBY, "price": "100000.01"}, format="json")

    assert (response.status_code, response.data["code"]) == (400, "invalid_price")


def test_adding_a_second_book_with_the_same_isbn_answers_409(staff, signed_in):
    BookFactory(isbn="9780743273565")

    response = signed_in(staff).post("/api/v1/books/", GATSBY, format="json")

    assert (response.status_code, response.data["code"]) == (409, "duplicate_isbn")


def test_staff_restock_a_book_and_get_200_with_its_new_stock(staff, signed_in):
    book = BookFactory(inventory__on_hand=2)

    response = signed_in(staff).post(f"/api/v1/books/{book.pk}/restock/", {"quantity": 5}, format="json")

    assert (response.status_code, response.data["stock"]) == (200, 7)


@pytest.mark.parametrize("quantity", [0, -3, 10**30, "many", 2.5, None])
def test_an_impossible_restock_answers_400(staff, signed_in, quantity):
    book = BookFactory(inventory__on_hand=2)

    response = signed_in(staff).post(f"/api/v1/books/{book.pk}/restock/", {"quantity": quantity}, format="json")

    assert response.status_code == 400
    assert "quantity" in response.data["fields"]


def test_restocking_an_unknown_book_answers_404(staff, signed_in):
    response = signed_in(staff).post(
        "/api/v1/books/00000000-0000-0000-0000-000000000000/restock/", {"quantity": 1}, format="json"
    )

    assert (response.status_code, response.data["code"]) == (404, "book_not_found")


@pytest.mark.django_db(transaction=True)
def test_a_new_book_has_its_initial_stock_when_the_answer_arrives(signed_in, settings):
    settings.INITIAL_STOCK = 7

    response = signed_in(AccountFactory(is_staff=True)).post("/api/v1/books/", GATSBY, format="json")

    assert (response.status_code, response.data["stock"]) == (201, 7)
