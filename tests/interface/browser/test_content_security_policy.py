"""The Content-Security-Policy in a real browser: the pages, the admin, the
browsable API and the Swagger docs work under it, and it blocks nothing of
theirs."""

from playwright.sync_api import Page, expect

from tests.interface.browser.steps import log_in
from tests.support.factories import AccountFactory, BookFactory

PASSWORD = "a sturdy passphrase"


def violations_on(page: Page) -> list[str]:
    """Everything the browser refuses on ``page`` under the policy, as it reports it."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    return seen


def test_the_swagger_docs_render_the_api_under_the_policy(open_page):
    # given
    page = open_page("/")
    refused = violations_on(page)

    # when
    page.goto("/api/v1/docs/")

    # then: Swagger UI ran (its setup script from the site) and drew the operations
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/v1/orders/").first).to_be_visible()
    assert refused == []


def test_the_shop_the_admin_and_the_browsable_api_raise_no_violation(open_page):
    # given
    AccountFactory(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    book = BookFactory(title="Dune")
    page = open_page("/")
    refused = violations_on(page)

    # when: a person walks through pages of each kind
    log_in(page, "operator", PASSWORD)
    page.goto(f"/books/{book.pk}/")
    expect(page.get_by_role("heading", name="Dune")).to_be_visible()
    page.goto("/admin/orders/order/")
    expect(page.get_by_role("heading", name="Select order to view")).to_be_visible()
    page.goto("/api/v1/books/")
    expect(page.get_by_text("Dune").first).to_be_visible()
    assert page.evaluate("typeof window.jQuery") == "function"  # the browsable API's scripts ran

    # then
    assert refused == []
