"""Mail in development as a person reads it: the development mail backend
prints each mail decoded and keeps a copy, and the staff page of sent mail
shows them with their links clickable."""

import io
import re

import pytest
from django.core.mail import EmailMessage
from django.urls import reverse

from messaging.testing import relay
from tests.support.factories import AccountFactory

pytestmark = pytest.mark.django_db

LINK = "http://127.0.0.1:8123/password-reset/" + "x" * 90 + "/a-token-long-enough-to-be-folded/"


@pytest.fixture
def development_mail(settings, tmp_path):
    """The development mail backend, as config/settings.py picks it in
    development, printing to a stream of the test's and keeping its copies
    in a directory of the test's."""
    stream = io.StringIO()
    settings.MAILERS = {"default": {"BACKEND": "console.mailbox.EmailBackend", "OPTIONS": {"stream": stream}}}
    settings.DEVELOPMENT_MAILBOX = str(tmp_path / "mailbox")
    return stream


@pytest.fixture
def staff_client(client):
    client.force_login(AccountFactory(username="operator", is_staff=True))
    return client


def test_the_console_shows_a_mail_decoded_its_link_in_one_piece(development_mail):
    # when: a mail with a long link and a word that is not ASCII
    EmailMessage("Réinitialiser", f"Bonjour,\n\nfollow {LINK} to choose a new password.\n", to=["a@example.com"]).send()

    # then
    printed = development_mail.getvalue()
    assert LINK in printed and "Bonjour," in printed
    assert "Subject: Réinitialiser" in printed and "To: a@example.com" in printed
    assert "=\n" not in printed and "quoted-printable" not in printed


def test_staff_read_the_reset_mail_and_its_link_leads_to_the_reset_form(development_mail, staff_client, settings):
    # given: a password reset asked for, and a relay worker sent its mail
    settings.SITE_URL = "http://testserver"
    AccountFactory(username="alice", email="alice@example.com")
    staff_client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    relay()

    # when
    page = staff_client.get(reverse("sent_mail"))

    # then: the mail, its link an anchor that opens the form to set a new password
    assert page.status_code == 200
    [mail] = page.context["mails"]
    assert mail.to == "alice@example.com" and mail.subject == "Reset your password"
    [link] = re.findall(r'<a href="(http://testserver/password-reset/[^"]+)"', page.text)
    form = staff_client.get(link, follow=True)
    assert "registration/password_reset_confirm.html" in [t.name for t in form.templates]
    assert form.context["validlink"] is True


def test_the_staff_console_links_the_sent_mail_only_when_mail_is_kept(development_mail, staff_client, settings):
    assert reverse("sent_mail") in staff_client.get(reverse("staff_console")).text

    settings.DEVELOPMENT_MAILBOX = None

    assert reverse("sent_mail") not in staff_client.get(reverse("staff_console")).text
    assert staff_client.get(reverse("sent_mail")).status_code == 404


def test_a_customer_gets_the_styled_403_and_a_visitor_the_login_page(development_mail, client):
    visitor = client.get(reverse("sent_mail"))
    client.force_login(AccountFactory())
    customer = client.get(reverse("sent_mail"))

    assert visitor.status_code == 302 and visitor["Location"].startswith(reverse("accounts:log_in"))
    assert customer.status_code == 403 and "403.html" in [t.name for t in customer.templates]
