"""Mail leaves through an outbox: queued in a transaction, addressed and
written when it is sent, outside one.

A policy that wants a mail sent returns ``QueueMail``: the recipient's
account id, the name of the renderer that writes it (one a context
registered with ``registry.register_mail_renderer``), the id it is about
(an order, an account) and a few words of its own (``params``). Its handler
records ``MailQueued``, with the message's ``Message-ID``, in the policy's
own transaction, so each mail is queued exactly once and nothing is queued
for a transaction that rolled back.

Mail carries ids, not addresses. The stored mail holds no address, no name
and no secret: ids, and ``params`` sealed under the recipient's key
(``messaging.personal``). So forgetting a person needs no search through
queued mail (throwing their key away is enough), and a mail goes to the
address the person has *when it is sent*. ``send_queued_mail`` is
subscribed to ``MailQueued`` as an outside effect: a relay worker leases
it, asks the renderer for the address, subject and body (each attempt: a
password-reset link's token is made then and lives only in the mail sent),
sends it with no transaction open (the mailer's timeout, ``EMAIL_TIMEOUT``,
bounds the wait) and then marks it sent. A mail to a forgotten person, one
the renderer has nobody to write to (``None``) and one to an address under
``.invalid`` is not sent, and its delivery says so: ``SKIPPED``, with why,
not failed.

A mail is sent **at least once**: a worker that dies after the server
accepted the mail and before the mark leaves it to be sent again, with the
same ``Message-ID``, by which a receiver can tell the two apart. A
permanent refusal (an SMTP 5xx answer) dead-letters at once; anything else
(4xx, a timeout, a refused connection) is retried with backoff.

The errors of a send name the recipient by account id, never by address:
they are stored (``Delivery.last_error``), logged and traced, and the mail
server's answer often quotes the address, which is replaced.
"""

import re
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import ClassVar
from uuid import UUID

from django.core.mail import EmailMessage

from ..conf import conf
from ..delivery.ledger import Permanent, Skipped
from ..messages import Event, PolicyCommand
from ..personal import is_forgotten, personal
from ..registry import registry

SENDING = "messaging.outbox.send_queued_mail"
"""The policy's stable name: deliveries are stored by it, so it outlives a
move of the module (its first home's name)."""


@dataclass(frozen=True, kw_only=True)
class QueueMail(PolicyCommand):
    """Send a mail to an account, written when it is sent by the renderer registered as ``renderer``."""

    recipient_id: UUID
    renderer: str
    about: UUID | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MailQueued(Event):
    """A mail waiting to be written and sent: whom to, by which renderer,
    about what, and its ``Message-ID``. ``params`` are sealed: what is said
    to a person is theirs. v1 stored the address, subject and body in clear."""

    version: ClassVar[int] = 2

    message_id: str
    recipient_id: UUID
    renderer: str
    about: UUID | None = None
    params: dict[str, str] = personal(of="recipient_id", placeholder={})


@dataclass(frozen=True)
class Mail:
    """What a renderer writes at send time. Its repr hides the address and
    the body (a reset link), so a traceback or a log line carries neither."""

    to: str = field(repr=False)
    subject: str
    body: str = field(repr=False)


def queue_mail(command: QueueMail) -> list[Event]:
    """Record the mail with the id every attempt to send it will carry; it
    reads nobody's data (the renderer does, at send time)."""
    if command.renderer not in registry.mail_renderers:
        raise LookupError(f"no mail renderer is named {command.renderer!r}")
    message_id = make_msgid(domain=conf.MESSAGING_MAIL_MESSAGE_ID_DOMAIN)
    return [
        MailQueued(
            message_id=message_id,
            recipient_id=command.recipient_id,
            renderer=command.renderer,
            about=command.about,
            params=dict(command.params),
        )
    ]


def send_queued_mail(event: MailQueued) -> Skipped | None:
    """Write the mail now, to the recipient's address of now, and hand it to
    the mail server (an outside effect: no transaction is open). Nothing is
    sent to a forgotten person, nor when the renderer has nobody to write to
    or the address is under ``.invalid`` (reserved never to exist, RFC 6761:
    such a mail could only dead-letter): that is ``Skipped``, not a failure."""
    recipient = event.recipient_id
    if is_forgotten(recipient):
        return Skipped(f"account {recipient} was forgotten: not sent")
    mail = registry.mail_renderers[event.renderer](recipient, event.about, event.params)
    if mail is None:
        return Skipped(f"{event.renderer} has nothing to write to account {recipient}: not sent")
    if mail.to.lower().endswith(".invalid"):
        return Skipped(f"account {recipient} has no address to write to: not sent")
    _send(mail, event.message_id, recipient)
    return None


class MailNotSent(Exception):
    """The mail server did not take the mail this time (a 4xx answer): it is
    tried again later. Its message names the recipient by account id."""


def _send(mail: Mail, message_id: str, recipient: UUID) -> None:
    """Send, telling a permanent refusal (5xx) from one worth retrying.

    smtplib's errors quote the address (and the server's answer often does
    too), so they are raised again as errors that name the recipient by
    account id, with the address in the server's answer replaced, ``from
    None`` so that no traceback chains the original. An error that is not
    the server's answer goes on as it is, unless it quotes the address."""
    message = EmailMessage(mail.subject, mail.body, to=[mail.to], headers={"Message-ID": message_id})
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as refused:
        answers = list(refused.recipients.values())
        unquote = _unquoting(recipient, mail.to, *refused.recipients)
        said = "; ".join(f"{code} {unquote(text)}" for code, text in answers)
        error = Permanent if answers and all(code >= 500 for code, _ in answers) else MailNotSent
        raise error(f"the mail server refused the mail to account {recipient}: {said}") from None
    except smtplib.SMTPResponseException as answer:
        error = Permanent if answer.smtp_code >= 500 else MailNotSent
        said = f"{answer.smtp_code} {_unquoting(recipient, mail.to)(answer.smtp_error)}"
        raise error(f"the mail server did not take the mail to account {recipient}: {said}") from None
    except Exception as failure:  # a timeout, a refused connection: no address in them, unless there is
        unquote = _unquoting(recipient, mail.to)
        if all(unquote(str(error)) == str(error) for error in _chain(failure)):
            raise
        raise MailNotSent(
            f"{type(failure).__name__} sending the mail to account {recipient}: {unquote(str(failure))}"
        ) from None


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and the errors its traceback chains (its cause, the error
    it was raised while handling, and theirs)."""
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _unquoting(recipient: UUID, *addresses: str):
    """A function that turns an error's text (or a server's answer, bytes)
    into one where each of ``addresses``, in any case, as given or with its
    domain as sent (IDNA), reads ``<account {recipient}>``."""
    spellings = set()
    for address in addresses:
        if not isinstance(address, str) or "@" not in address:
            continue
        spellings.add(address)
        local, _, domain = address.rpartition("@")
        try:
            spellings.add(f"{local}@{domain.encode('idna').decode('ascii')}")
        except UnicodeError:
            pass
    pattern = "|".join(re.escape(spelling) for spelling in sorted(spellings, key=len, reverse=True))
    quoted = re.compile(rf"<?(?:{pattern})>?", re.IGNORECASE) if pattern else None

    def unquote(text: bytes | str) -> str:
        text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
        return quoted.sub(f"<account {recipient}>", text) if quoted else text

    return unquote
