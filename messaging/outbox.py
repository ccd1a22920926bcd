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

A mail that holds a secret (a password-reset link) must not be stored: a
policy returns ``QueueRenderedMail`` instead, naming a renderer a context
registered (``registry.register_mail_renderer``) and the id the mail is
about. ``RenderedMailQueued`` stores only those and the ``Message-ID``;
``send_rendered_mail`` asks the renderer for the address, subject and body
at send time, each attempt, so the secret lives only in the mail sent.
"""

import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage

from .delivery import Permanent
from .messages import Event, PolicyCommand
from .registry import registry


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


@dataclass(frozen=True, kw_only=True)
class QueueRenderedMail(PolicyCommand):
    """Send a mail written only when it is sent, by the renderer registered
    as ``renderer``, about ``about`` (issued by policies)."""

    renderer: str
    about: UUID


@dataclass(frozen=True, kw_only=True)
class RenderedMailQueued(Event):
    """A mail waiting to be written and sent: no address, no text, only what
    it is about and its ``Message-ID``."""

    message_id: str
    renderer: str
    about: UUID


@dataclass(frozen=True)
class Mail:
    """What a renderer writes at send time. Its repr hides the body (a reset
    link), so a traceback or a log line cannot carry it."""

    to: str
    subject: str
    body: str = field(repr=False)


def queue_rendered_mail(command: QueueRenderedMail) -> list[Event]:
    """Record that the mail is owed, with the id every attempt will carry."""
    if command.renderer not in registry.mail_renderers:
        raise LookupError(f"no mail renderer is named {command.renderer!r}")
    message_id = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    return [RenderedMailQueued(message_id=message_id, renderer=command.renderer, about=command.about)]


def send_queued_mail(event: MailQueued) -> None:
    """Hand the mail to the mail server (an outside effect: no transaction is open)."""
    _send(Mail(to=event.to, subject=event.subject, body=event.body), event.message_id)


def send_rendered_mail(event: RenderedMailQueued) -> None:
    """Write the mail now and hand it to the mail server (an outside effect).
    A renderer that answers ``None`` has nobody to write to any more (the
    account was deactivated since): nothing is sent."""
    mail = registry.mail_renderers[event.renderer](event.about)
    if mail is None or mail.to.lower().endswith(".invalid"):
        return
    _send(mail, event.message_id)


def _send(mail: Mail, message_id: str) -> None:
    """Send, telling a permanent refusal (5xx) from one worth retrying. The
    errors name the address and the server's answer, never the body."""
    message = EmailMessage(mail.subject, mail.body, to=[mail.to], headers={"Message-ID": message_id})
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as refused:
        if all(code >= 500 for code, _ in refused.recipients.values()):
            raise Permanent(f"the mail server refused {mail.to}: {refused.recipients}") from refused
        raise
    except smtplib.SMTPResponseException as answer:
        if answer.smtp_code >= 500:
            raise Permanent(f"the mail server refused the mail: {answer.smtp_code} {answer.smtp_error!r}") from answer
        raise
