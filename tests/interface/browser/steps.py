"""Steps several browser stories share."""

from playwright.sync_api import Page, expect


def log_in(page: Page, username: str, password: str) -> None:
    """Log in through the login page, from wherever ``page`` is."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password:", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
