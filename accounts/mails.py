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
