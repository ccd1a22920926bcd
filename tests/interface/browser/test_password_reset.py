"""Someone who forgot their password follows "Forgot your password?" from
the login page, gets the link by mail and logs in with a new password."""

import re

from playwright.sync_api import expect

from messaging.testing import relay
from tests.interface.browser.steps import log_in
from tests.support.factories import AccountFactory


def test_a_forgotten_password_is_reset_from_the_login_page(open_page, live_server, settings, mailoutbox):
    settings.SITE_URL = live_server.url
    AccountFactory(username="alice", email="alice@example.com")
    alice = open_page("/login/")

    alice.get_by_role("link", name="Forgot your password?").click()
    alice.get_by_label("E-mail").fill("alice@example.com")
    alice.get_by_role("button", name="Send me a link").click()
    expect(alice.get_by_role("status")).to_contain_text("a link to choose a new password is on its way")

    relay()  # a relay worker sends the mail
    [mail] = mailoutbox
    alice.goto(re.search(r"https?://\S+", mail.body)[0])
    alice.get_by_label("New password:", exact=True).fill("a fresh sturdy passphrase")
    alice.get_by_label("New password confirmation").fill("a fresh sturdy passphrase")
    alice.get_by_role("button", name="Set my password").click()
    expect(alice.get_by_role("status")).to_contain_text("Your new password is set.")

    log_in(alice, "alice", "a fresh sturdy passphrase")
