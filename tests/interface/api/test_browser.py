"""The API as a browser meets it: every route answers ``Accept: text/html``
(the browsable API) and ``OPTIONS`` without a server error, signed out and
in, and the pages and descriptions it gives show each action's real input."""

import json

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from accounts.commands import BlockAccount
from messaging import bus
from messaging.models import Delivery
from tests.support.factories import AccountFactory, BookFactory
from tests.support.stock import place

# What Firefox and Chrome send for a page.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CALLERS = ["anonymous", "customer", "staff"]


def api_routes(patterns=None, prefix=""):
    """Every route of the URL conf under ``/api/``, as its pattern (``api/v1/books/<uuid:pk>/``)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern.url_patterns, route)
        elif route.startswith("api/"):
            yield route


ROUTES = sorted(set(api_routes()))


@pytest.fixture
def shop(db):
    """A customer with an order of a book, staff, and a pending delivery; ``shop.path(route)``
    fills a route's id with the right one of these."""
    customer = AccountFactory(username="customer")
    book = BookFactory()
    order = bus.dispatch(place(customer, (book, 1))).events[0]
    blocked = bus.dispatch(BlockAccount(blocker_id=AccountFactory().pk, blocked_id=AccountFactory().pk)).events[0]
    delivery = Delivery.objects.get(event_id=blocked.event_id)  # pending: no commit runs it in a test transaction
    ids = {"accounts": customer.pk, "books": book.pk, "orders": order.order_id, "deliveries": delivery.pk}

    class Shop:
        callers = {"customer": customer, "staff": AccountFactory(username="operator", is_staff=True)}

        @staticmethod
        def path(route: str) -> str:
            resource = route.split("/")[2]
            for converter in ("<uuid:pk>", "<int:pk>"):
                route = route.replace(converter, str(ids.get(resource)))
            return "/" + route

        @staticmethod
        def browser(caller: str) -> Client:
            client = Client()
            if caller != "anonymous":
                client.force_login(Shop.callers[caller])
            return client

    return Shop


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES)
def test_every_api_route_answers_a_browser_without_a_server_error(shop, route, caller):
    # given
    browser = shop.browser(caller)

    # when
    response = browser.get(shop.path(route), headers={"accept": BROWSER})

    # then
    assert response.status_code < 500, response.content[:300]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES)
def test_every_api_route_answers_options_without_a_server_error(shop, route, caller):
    # given
    client = shop.browser(caller)

    # when
    response = client.options(shop.path(route))

    # then
    assert response.status_code < 500, response.content[:300]


def test_the_book_list_is_a_page_with_the_books_in_a_browser(db):
    # given
    BookFactory(title="The Great Gatsby")

    # when
    response = Client().get("/api/v1/books/", headers={"accept": BROWSER})

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "The Great Gatsby" in response.text


def test_staff_see_the_fields_of_a_new_book_in_the_browser_form(db):
    # given
    browser = Client()
    browser.force_login(AccountFactory(is_staff=True))

    # when
    response = browser.get("/api/v1/books/", headers={"accept": BROWSER})

    # then
    assert response.status_code == 200
    for field in ("title", "author", "isbn", "price", "currency", "description"):
        assert f"&quot;{field}&quot;" in response.text


def test_a_client_without_a_preference_still_gets_json(db):
    # given
    BookFactory(title="Dune")

    # when
    response = Client().get("/api/v1/books/")

    # then
    assert response["Content-Type"] == "application/json"
    assert response.json()["results"][0]["title"] == "Dune"


def test_options_on_orders_describes_the_body_of_a_new_order(db):
    # given
    browser = Client()
    browser.force_login(AccountFactory())

    # when
    response = browser.options("/api/v1/orders/")

    # then
    assert response.status_code == 200
    items = response.json()["actions"]["POST"]["items"]
    assert items["required"] is True
    assert set(items["child"]["children"]) == {"book_id", "quantity"}


def test_options_on_accounts_describes_registration(db):
    # given
    browser = Client()
    browser.force_login(AccountFactory())

    # when
    response = browser.options("/api/v1/accounts/")

    # then
    assert response.status_code == 200
    assert set(response.json()["actions"]["POST"]) == {"email", "username", "password"}


def test_options_offers_a_customer_no_staff_action(shop):
    # given
    browser = shop.browser("customer")

    # when
    on_books = browser.options("/api/v1/books/")
    on_confirm = browser.options(shop.path("api/v1/orders/<uuid:pk>/confirm/"))

    # then
    assert "actions" not in on_books.json()
    assert "actions" not in on_confirm.json()


def test_options_offers_staff_the_fields_of_a_restock(shop):
    # given
    browser = shop.browser("staff")

    # when
    response = browser.options(shop.path("api/v1/books/<uuid:pk>/restock/"))

    # then
    assert set(response.json()["actions"]["POST"]) == {"quantity"}


def test_a_refusal_in_a_browser_is_a_page_with_the_error_shape(shop):
    # given
    browser = shop.browser("customer")

    # when
    response = browser.get("/api/v1/events/", headers={"accept": BROWSER})

    # then
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "&quot;code&quot;: &quot;permission_denied&quot;" in response.text


def test_the_order_form_in_a_browser_starts_from_an_empty_list_of_items(shop):
    # given
    browser = shop.browser("customer")

    # when
    response = browser.get("/api/v1/orders/", headers={"accept": BROWSER})

    # then
    assert response.status_code == 200
    content = response.context["raw_data_post_form"]["_content"].initial
    assert json.loads(content) == {"items": []}
