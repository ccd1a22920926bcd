"""Finding the API: its root lists the resources and the docs, and every
page links both."""

import pytest
from django.test import Client

from tests.support.factories import AccountFactory

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
RESOURCES = ["accounts", "books", "orders", "events", "deliveries", "auth_token", "schema", "docs"]


def test_the_api_root_links_each_resource_the_token_endpoint_and_the_docs(db):
    # when
    response = Client().get("/api/v1/")

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == RESOURCES
    assert response.json()["books"] == "http://testserver/api/v1/books/"
    assert response.json()["auth_token"] == "http://testserver/api/v1/auth/token/"
    assert response.json()["docs"] == "http://testserver/api/v1/docs/"


def test_every_link_of_the_api_root_answers_staff(db):
    # given
    staff = Client()
    staff.force_login(AccountFactory(is_staff=True))
    links = staff.get("/api/v1/").json()

    # when
    statuses = {name: staff.get(url).status_code for name, url in links.items()}

    # then
    assert statuses == {name: 405 if name == "auth_token" else 200 for name in RESOURCES}


def test_the_api_root_is_a_page_in_a_browser(db):
    # when
    response = Client().get("/api/v1/", headers={"accept": BROWSER})

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "http://testserver/api/v1/docs/" in response.text


@pytest.mark.parametrize("path", ["/", "/books/", "/login/"])
def test_the_pages_link_the_api_and_its_docs(db, path):
    # when
    response = Client().get(path)

    # then
    assert response.status_code == 200
    assert 'href="/api/v1/"' in response.text
    assert 'href="/api/v1/docs/"' in response.text
