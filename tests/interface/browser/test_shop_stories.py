"""The shop in a browser: staff add a book, a customer orders and cancels,
staff confirm an order from the admin."""

from playwright.sync_api import expect

from messaging import bus
from orders.commands import PlaceOrder
from orders.values import OrderLine
from tests.interface.browser.steps import log_in
from tests.support.factories import AccountFactory, BookFactory

PASSWORD = "a sturdy passphrase"


def test_staff_add_a_book_and_see_its_stock_of_10(open_page):
    AccountFactory(username="operator", password=PASSWORD, is_staff=True)
    page = open_page()
    log_in(page, "operator", PASSWORD)

    page.get_by_role("navigation").get_by_role("link", name="Staff").click()
    page.get_by_role("main").get_by_role("link", name="Books").click()
    page.get_by_label("Title:").fill("Dune")
    page.get_by_label("Author:").fill("Frank Herbert")
    page.get_by_label("Price:").fill("9.99")
    page.get_by_role("button", name="Add book").click()

    expect(page.get_by_role("heading", name="Dune")).to_be_visible()
    expect(page.get_by_test_id("stock")).to_have_text("10 in stock")


def test_a_customer_orders_a_book_and_cancels_the_order(open_page):
    AccountFactory(username="carol", password=PASSWORD)
    BookFactory(title="Dune", inventory__on_hand=10)
    page = open_page()
    log_in(page, "carol", PASSWORD)

    page.get_by_role("navigation").get_by_role("link", name="Books").click()
    page.get_by_role("link", name="Dune").click()
    page.get_by_label("Copies").fill("2")
    page.get_by_role("button", name="Order").click()
    expect(page.get_by_role("status")).to_contain_text("Order placed.")
    expect(page.get_by_role("main")).to_contain_text("2 × Dune")

    page.get_by_role("link", name="Cancel order").click()
    expect(page.get_by_role("heading", name="Cancel this order?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.get_by_role("status")).to_contain_text("Order cancelled")
    expect(page.locator(".status-tag")).to_have_text("cancelled")
    page.get_by_role("link", name="Dune").click()
    expect(page.get_by_test_id("stock")).to_have_text("10 in stock")


def test_staff_confirm_an_order_in_the_admin_with_an_action(open_page):
    AccountFactory(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    customer, book = AccountFactory(username="carol"), BookFactory(title="Dune")
    bus.dispatch(PlaceOrder(items=(OrderLine(book_id=book.pk, quantity=1),), actor_id=customer.pk))
    page = open_page("/admin/")

    page.get_by_label("Username:").fill("operator")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/orders/order/")
    page.locator("input.action-select").check()
    page.get_by_label("Action:").select_option(label="Confirm the selected orders")
    page.get_by_role("button", name="Run").click()

    expect(page.locator(".messagelist")).to_contain_text("Confirmed 1 order(s)")
    expect(page.locator("#result_list tbody")).to_contain_text("confirmed")
