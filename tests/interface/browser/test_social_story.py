"""A newcomer signs up, confirms the address by the mailed link, follows someone, is blocked by them and
sees the follow gone."""

import re

from playwright.sync_api import expect

from messaging.testing import relay
from tests.interface.browser.steps import log_in
from tests.support.factories import AccountFactory


def test_a_newcomer_follows_bob_is_blocked_by_him_and_sees_the_follow_gone(
    open_page, live_server, settings, mailoutbox
):
    settings.SITE_URL = live_server.url
    AccountFactory(username="bob", password="bobs-own-passphrase")
    newcomer = open_page("/")

    # signs up, and follows the link mailed to the address, which signs them in
    newcomer.get_by_role("navigation").get_by_role("link", name="Sign up").click()
    newcomer.get_by_label("Username").fill("newcomer")
    newcomer.get_by_label("E-mail").fill("newcomer@example.com")
    newcomer.get_by_label("Password:", exact=True).fill("a sturdy passphrase")
    newcomer.get_by_label("Password (again)").fill("a sturdy passphrase")
    newcomer.get_by_role("button", name="Sign up").click()
    expect(newcomer.get_by_role("status")).to_contain_text("We sent a mail to the address you gave.")
    relay()  # a relay worker sends the mail
    [mail] = mailoutbox
    newcomer.goto(re.search(r"https?://\S+", mail.body)[0])
    newcomer.get_by_role("button", name="Confirm my address").click()
    expect(newcomer.get_by_role("status")).to_contain_text("Your e-mail address is verified. Welcome!")

    # finds bob and follows him
    newcomer.get_by_role("navigation").get_by_role("link", name="People").click()
    newcomer.get_by_role("searchbox").fill("bo")
    newcomer.get_by_role("button", name="Search").click()
    newcomer.get_by_role("link", name="bob").click()
    newcomer.get_by_role("button", name="Follow").click()
    expect(newcomer.get_by_role("status")).to_contain_text("You follow bob now.")
    expect(newcomer.get_by_test_id("followers-count")).to_have_text("1")

    # bob blocks the newcomer
    bob = open_page()
    log_in(bob, "bob", "bobs-own-passphrase")
    bob.goto("/people/newcomer/")
    expect(bob.get_by_text("Follows you")).to_be_visible()
    bob.get_by_role("link", name="Block").click()
    expect(bob.get_by_role("heading", name="Block newcomer?")).to_be_visible()
    bob.get_by_role("button", name="Yes, block newcomer").click()
    expect(bob.get_by_role("status")).to_contain_text("You block newcomer")

    # the newcomer sees the follow gone, and cannot follow again
    newcomer.reload()
    expect(newcomer.get_by_test_id("followers-count")).to_have_text("0")
    expect(newcomer.get_by_text("bob blocks you")).to_be_visible()
    newcomer.get_by_role("button", name="Follow").click()
    expect(newcomer.get_by_role("alert")).to_contain_text(
        "You cannot follow this account: there is a block between you."
    )
