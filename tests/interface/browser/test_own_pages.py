"""The pages of the shop's own: covers on the books, the sent mail staff
read in development, a person's account page, and the trace's timeline."""

import io

import pytest
from playwright.sync_api import expect

from accounts import tokens
from accounts.models import Account
from messaging import bus
from messaging.models import StoredEvent
from messaging.testing import relay
from orders.commands import ConfirmOrder, PlaceOrder
from orders.values import OrderLine
from tests.interface.browser.steps import log_in
from tests.support.factories import AccountFactory, BookFactory

PASSWORD = "a sturdy passphrase"


@pytest.fixture
def development_mail(settings, tmp_path, live_server):
    """Mail as in development: the development backend keeping copies, links to the live server."""
    settings.MAILERS = {"default": {"BACKEND": "console.mailbox.EmailBackend", "OPTIONS": {"stream": io.StringIO()}}}
    settings.DEVELOPMENT_MAILBOX = str(tmp_path / "mailbox")
    settings.SITE_URL = live_server.url


def ask_for_a_reset(open_page, email: str) -> None:
    """Someone signed out asks for a reset link at the page, and a relay worker sends it."""
    visitor = open_page("/password-reset/")
    visitor.get_by_label("E-mail").fill(email)
    visitor.get_by_role("button", name="Send me a link").click()
    expect(visitor.get_by_role("status")).to_contain_text("a link to choose a new password is on its way")
    relay()


def test_the_books_and_a_books_page_show_its_generated_cover(open_page):
    BookFactory(title="Dune", author="Frank Herbert", isbn="9780441013593", description="Spice and sand.")
    page = open_page("/books/")

    cover = page.locator("svg.cover")
    expect(cover).to_have_count(1)
    expect(cover).to_be_visible()
    assert cover.bounding_box()["height"] > cover.bounding_box()["width"] > 20  # a portrait, drawn
    expect(page.get_by_role("main")).to_contain_text("Spice and sand.")

    page.get_by_role("link", name="Dune").click()
    expect(page.get_by_role("img", name="Cover of Dune")).to_be_visible()
    expect(page.get_by_role("img", name="Cover of Dune")).to_contain_text("Frank Herbert")
    expect(page.get_by_role("main")).to_contain_text("Spice and sand.")


def test_staff_read_a_reset_mail_and_its_link_opens_the_reset_form(open_page, development_mail):
    # given
    AccountFactory(username="operator", password=PASSWORD, is_staff=True)
    AccountFactory(username="alice", email="alice@example.com")
    ask_for_a_reset(open_page, "alice@example.com")
    staff = open_page()
    log_in(staff, "operator", PASSWORD)

    # when
    staff.get_by_role("navigation").get_by_role("link", name="Staff").click()
    staff.get_by_role("link", name="Sent mail").click()

    # then
    mail = staff.get_by_test_id("mail")
    expect(mail).to_have_count(1)
    expect(mail.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(mail).to_contain_text("alice@example.com")
    mail.locator('a[href*="/password-reset/"]').click()
    expect(staff.get_by_label("New password:", exact=True)).to_be_visible()


def test_a_person_revokes_a_token_then_signs_out_everywhere_on_their_account_page(open_page):
    # given
    alice = AccountFactory(username="alice", password=PASSWORD)
    kept, revoked = tokens.issue(alice)[0], tokens.issue(alice)[0]
    page = open_page()
    log_in(page, "alice", PASSWORD)

    # when
    page.get_by_role("navigation").get_by_role("link", name="alice").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.get_by_test_id("token")).to_have_count(2)
    page.get_by_role("button", name=f"Revoke the token {revoked.token_key[:8]}").click()

    # then
    expect(page.get_by_role("status")).to_contain_text("That token is revoked")
    expect(page.get_by_test_id("token")).to_have_count(1)
    assert [token.id for token in tokens.live(alice.pk)] == [kept.id]
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out everywhere: 1 API token revoked.")
    expect(page.get_by_role("main")).to_contain_text("No API token signs you in anywhere.")


def test_forget_me_asks_first_then_needs_the_password(open_page):
    # given
    alice = AccountFactory(username="alice", password=PASSWORD)
    page = open_page()
    log_in(page, "alice", PASSWORD)
    page.goto("/account/")

    # when: she asks, goes back, asks again with a wrong password, then hers
    page.get_by_role("link", name="Forget me…").click()
    expect(page.get_by_role("heading", name="Forget your account?")).to_be_visible()
    page.get_by_role("link", name="No, go back").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    page.get_by_role("link", name="Forget me…").click()
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Yes, forget me").click()
    expect(page.get_by_role("main")).to_contain_text("This is not your password.")
    assert Account.objects.get(pk=alice.pk).is_active
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Yes, forget me").click()

    # then
    expect(page.get_by_role("status")).to_contain_text("Your account is closed and your data erased.")
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    assert not Account.objects.get(pk=alice.pk).is_active


def test_the_trace_timeline_draws_the_requests_bars_apart_from_the_workers(open_page, development_mail):
    # given: an order confirmed (its mail policy runs on the commit) and its
    # mail sent later by a relay worker
    operator = AccountFactory(username="operator", password=PASSWORD, is_staff=True)
    alice, book = AccountFactory(username="alice"), BookFactory()
    (placed, *_) = bus.dispatch(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=alice.pk)).events
    relay()
    bus.dispatch(ConfirmOrder(order_id=placed.order_id, actor_id=operator.pk))
    relay()
    correlation_id = StoredEvent.objects.get(type="OrderConfirmed").correlation_id
    staff = open_page()
    log_in(staff, "operator", PASSWORD)

    # when
    staff.goto(f"/trace/{correlation_id}/")

    # then: three bars in the request's lane (the command, the mail policy, the mail queued), the mail's sending in
    # the workers', after the request ended
    request_bars = staff.locator('svg[data-lane="request"] rect.bar')
    worker_bars = staff.locator('svg[data-lane="workers"] rect.bar')
    expect(request_bars).to_have_count(3)
    expect(worker_bars).to_have_count(1)
    for bar in [*request_bars.all(), *worker_bars.all()]:
        box = bar.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] == 16
    request_end = staff.locator('svg[data-lane="workers"] line.request-end').bounding_box()
    assert worker_bars.first.bounding_box()["x"] >= request_end["x"] - 1
    expect(staff.get_by_role("heading", name="In the request")).to_be_visible()
    expect(staff.get_by_role("heading", name="Later, by workers")).to_be_visible()
