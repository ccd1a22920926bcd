"""Mails of the accounts context, written when they are sent (renderers of
``messaging.features.outbox``): addressed to the recipient's address of that moment,
and holding what must never be stored (a reset link's token)."""

from uuid import UUID

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from messaging.features.outbox import Mail

from . import verification
from .models import Account

AS_WRITTEN_MAIL = "accounts.as_written"  # a mail queued with its text, before mail carried ids (``as_written``)


def password_reset(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """The reset link for the account, with a token Django's token generator
    makes now (it expires after ``PASSWORD_RESET_TIMEOUT`` and once the
    password changes); ``None`` when the account may no longer have one
    (deactivated or forgotten since it was asked for)."""
    account = Account.objects.filter(pk=recipient_id).first()
    if account is None or account.request_password_reset() is None:
        return None
    path = reverse(
        "accounts:password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(account.pk)),
            "token": default_token_generator.make_token(account),
        },
    )
    body = render_to_string(
        "accounts/password_reset_mail.txt",
        {
            "account": account,
            "link": settings.SITE_URL.rstrip("/") + path,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
    return Mail(to=account.email, subject="Reset your password", body=body)


def as_written(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """A mail queued before mail carried ids, with its subject and body as
    they were written then (``params``), to the recipient's address of now;
    ``None`` when the account is gone, or its text is (forgotten since)."""
    email = Account.objects.filter(pk=recipient_id).values_list("email", flat=True).first()
    if email is None or not {"subject", "body"} <= params.keys():
        return None
    return Mail(to=email, subject=params["subject"], body=params["body"])


def verification_link(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """The link that verifies the account's address, its token made now
    (``accounts.verification``); ``None`` when it needs none any more
    (verified, deactivated or forgotten since it was asked for)."""
    account = Account.objects.filter(pk=recipient_id).first()
    if account is None or account.email_verified or not account.is_active:
        return None
    path = reverse("accounts:verify_email", kwargs={"token": verification.make_token(account)})
    body = render_to_string(
        "accounts/verification_mail.txt",
        {
            "account": account,
            "link": settings.SITE_URL.rstrip("/") + path,
            "days": settings.EMAIL_VERIFICATION_TIMEOUT // 86400,
        },
    )
    return Mail(to=account.email, subject="Confirm your e-mail address", body=body)


def sign_up_attempted(recipient_id: UUID, about: UUID | None, params: dict[str, str]) -> Mail | None:
    """Tell the owner of an address that someone tried to sign up with it:
    the sign-up's answer did not say the address is taken, so this mail is
    the only place it is said, to its owner. ``None`` once the account is closed."""
    account = Account.objects.filter(pk=recipient_id, is_active=True).first()
    if account is None:
        return None
    site = settings.SITE_URL.rstrip("/")
    body = render_to_string(
        "accounts/sign_up_attempted_mail.txt",
        {
            "account": account,
            "log_in": site + reverse("accounts:log_in"),
            "reset": site + reverse("accounts:password_reset"),
        },
    )
    return Mail(to=account.email, subject="Someone tried to sign up with your address", body=body)
