"""Mails of the accounts context written at send time (``outbox.QueueRenderedMail``),
because they carry a secret that must never be stored."""

from uuid import UUID

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from messaging.outbox import Mail

from .models import Account


def password_reset(account_id: UUID) -> Mail | None:
    """The reset link for the account, with a token Django's token generator
    makes now (it expires after ``PASSWORD_RESET_TIMEOUT`` and once the
    password changes); ``None`` when the account may no longer have one
    (deactivated or forgotten since it was asked for)."""
    account = Account.objects.filter(pk=account_id).first()
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
