"""Mail leaves through an outbox: queued in a transaction, sent outside one.

A policy that wants a mail sent returns ``QueueMail``. Its handler records
``MailQueued``, with the message's ``Message-ID``, in the policy's own
transaction, so each mail is queued exactly once and nothing is sent for a
transaction that rolled back. ``send_queued_mail`` is subscribed to
``MailQueued`` as an outside effect: a relay worker leases it, sends it
with no transaction open (the mailer's timeout, ``EMAIL_TIMEOUT``, bounds
the wait) and then marks it sent.

So a mail is sent **at least once**: a worker that dies after the server
accepted the mail and before the mark leaves it to be sent again, with the
same ``Message-ID``, by which a receiver can tell the two apart. A
permanent refusal (an SMTP 5xx answer) dead-letters at once; anything else
(4xx, a timeout, a refused connection) is retried with backoff.
"""

import smtplib
from dataclasses import dataclass
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage

from .delivery import Permanent
from .messages import Event, PolicyCommand


@dataclass(frozen=True, kw_only=True)
class QueueMail(PolicyCommand):
    """Send a mail, once this command's transaction has committed (issued by policies)."""

    to: str
    subject: str
    body: str


@dataclass(frozen=True, kw_only=True)
class MailQueued(Event):
    """A mail waiting to be sent; ``message_id`` is its ``Message-ID`` header."""

    message_id: str
    to: str
    subject: str
    body: str


def queue_mail(command: QueueMail) -> list[Event]:
    """Record the mail with the id every attempt to send it will carry.

    A mail to an address under ``.invalid`` is not queued: that domain is
    reserved never to exist (RFC 6761), so the mail could only dead-letter.
    A forgotten person's placeholder address is one, and a policy that
    mails them (their order shipped after they left) has nobody to tell."""
    if command.to.lower().endswith(".invalid"):
        return []
    message_id = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    return [MailQueued(message_id=message_id, to=command.to, subject=command.subject, body=command.body)]


def send_queued_mail(event: MailQueued) -> None:
    """Hand the mail to the mail server (an outside effect: no transaction is open)."""
    message = EmailMessage(event.subject, event.body, to=[event.to], headers={"Message-ID": event.message_id})
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as refused:
        if all(code >= 500 for code, _ in refused.recipients.values()):
            raise Permanent(f"the mail server refused {event.to}: {refused.recipients}") from refused
        raise
    except smtplib.SMTPResponseException as answer:
        if answer.smtp_code >= 500:
            raise Permanent(f"the mail server refused the mail: {answer.smtp_code} {answer.smtp_error!r}") from answer
        raise
