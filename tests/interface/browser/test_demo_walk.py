"""A walk through the seeded demo shop: what ``scripts/run`` shows a newcomer
is there and true (books with stock, people with followers, a trace with a
policy in it). Seeded once, by the same ``demo_shop`` command, not through
``scripts/run``."""

import io

from django.core.management import call_command
from playwright.sync_api import expect

from tests.interface.browser.steps import log_in


def test_the_seeded_demo_shows_books_in_stock_people_with_followers_and_a_traced_policy(open_page, embedded_database):
    call_command("demo_shop", stdout=io.StringIO(), stderr=io.StringIO())

    # the customer finds the shelf stocked and her orders in every state
    customer = open_page()
    log_in(customer, "ada", "demo-password")
    customer.get_by_role("navigation").get_by_role("link", name="Books").click()
    middlemarch = customer.get_by_role("listitem").filter(has_text="Middlemarch")
    expect(middlemarch.get_by_test_id("stock")).to_have_text("24 in stock")
    customer.goto("/orders/")
    for state in ("pending", "confirmed", "shipped", "cancelled"):
        expect(customer.locator(".status-tag", has_text=state).first).to_be_visible()

    # her profile has followers, and a blocked pair no longer follows
    customer.goto("/people/ada/")
    expect(customer.get_by_test_id("followers-count")).to_have_text("3")
    customer.goto("/people/dennis/")
    expect(customer.get_by_test_id("followers-count")).to_have_text("2")

    # staff trace a cancellation down to the policy that put its stock back
    staff = open_page()
    log_in(staff, "admin", "admin-demo-password")
    staff.goto("/trace/")
    staff.get_by_role("link", name="CancelOrder").first.click()
    tree = staff.locator("ul.tree")  # the causal tree (the timeline above names them too)
    expect(tree.get_by_text("orders.policies.release_stock_on_cancel")).to_be_visible()
    expect(tree.get_by_text("ReleaseStock", exact=True)).to_be_visible()
