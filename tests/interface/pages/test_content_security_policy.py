"""Every page says where its scripts may come from: a Content-Security-Policy
(Django's own, ``SECURE_CSP``) that runs no inline script."""

import re

import pytest
from django.urls import reverse

from tests.support.factories import BookFactory

pytestmark = pytest.mark.django_db

PAGES = ["/", "/books/", "/login/", "/signup/", "/api/v1/", "/api/v1/books/", "/api/v1/docs/", "/admin/login/"]


def policy(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_policy_that_runs_only_the_sites_own_scripts(client, path):
    # when
    response = client.get(path, HTTP_ACCEPT="text/html")

    # then
    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


def test_a_book_page_with_its_order_form_sends_the_policy(client):
    response = client.get(reverse("catalog:book", args=[BookFactory().pk]))

    assert policy(response)["form-action"] == ["'self'"]


def test_the_api_docs_load_their_setup_script_from_the_site_instead_of_inline(client):
    # given: the docs page as a browser gets it
    page = client.get("/api/v1/docs/").text

    # when: its setup script, which the policy must allow, is fetched
    (script_url,) = re.findall(r'<script src="(/api/v1/docs/[^"]*)"', page)
    script = client.get(script_url.replace("&amp;", "&"))

    # then: no inline script is left, and the setup script names the schema
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert script.status_code == 200 and "/api/v1/schema/" in script.text
