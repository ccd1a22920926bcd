"""The site's own pages for what goes wrong, and its icon: in the site's
look, with a way back, never Django's bare ones."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from catalog import queries as catalog_queries
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db


def assert_in_the_site_style(response, template: str):
    assert template in [t.name for t in response.templates]
    assert "base.html" in [t.name for t in response.templates]
    assert 'class="site-header"' in response.text and 'href="/"' in response.text


def test_a_customer_following_a_staff_link_gets_the_sites_403_page(client):
    # given
    client.force_login(AccountFactory(username="carol"))

    # when
    response = client.get("/staff/orders/")

    # then
    assert response.status_code == 403
    assert_in_the_site_style(response, "403.html")
    assert "for the shop's staff" in response.text
    assert "carol" in response.text  # still signed in, as the header says


def test_an_unknown_page_gets_the_sites_404_page(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert_in_the_site_style(response, "404.html")
    assert "/no/such/page/" in response.text


def test_a_bug_gets_the_sites_500_page(monkeypatch):
    # given a page whose query fails
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(catalog_queries, "search_books", broken)

    # when
    response = Client(raise_request_exception=False).get("/books/")

    # then
    assert response.status_code == 500
    assert_in_the_site_style(response, "500.html")
    assert "Something went wrong on our side" in response.text


def test_every_page_names_the_sites_icon_and_the_icon_exists(client):
    response = client.get("/")

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in response.text
    assert finders.find("favicon.svg")
