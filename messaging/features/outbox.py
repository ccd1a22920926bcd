"""Mail leaves through an outbox: queued in a transaction, written and
addressed when it is sent, outside one.

``QueueMail`` records ``MailQueued`` (ids and sealed ``params``, never an
address) in the policy's transaction; ``send_queued_mail``, an outside
effect, has the renderer write the mail at each attempt and sends it at
least once, each time with its one ``Message-ID``. See
docs/architecture.md, "Outside effects: the mail outbox".
"""

import re
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import ClassVar
from uuid import UUID

from django.core import mail as django_mail
from django.core.mail import EmailMessage

from ..conf import conf
from ..delivery.ledger import OutcomeUnknown, Permanent, Skipped
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


def sending_order(event: MailQueued) -> str | None:
    """The ordering key of a mail's sending (``registry.subscribe(...,
    ordered_by=)``): its recipient and what it is about, for a renderer
    registered ``in_order``; none otherwise (a password reset is never held
    back by an earlier one that keeps failing)."""
    if event.about is None or event.renderer not in registry.mails_in_order:
        return None
    return f"{event.recipient_id}:{event.about}"


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
    the server's answer goes on as it is, unless it quotes the address.

    A timeout once the connection is open and greeted (EHLO answered) leaves
    the outcome unknown: the server may have taken the mail and be slow to
    say so. That is ``OutcomeUnknown`` (retried once, later, then parked),
    not a failure retried at once into a flood of copies. A timeout while
    connecting is a plain failure: nothing was handed over."""
    message = EmailMessage(mail.subject, mail.body, to=[mail.to], headers={"Message-ID": message_id})
    mailer = django_mail.mailers.default
    connected = False
    try:
        mailer.open()
        if getattr(mailer, "connection", None) is not None:  # SMTP: greet now, so a server that never answers
            mailer.connection.ehlo_or_helo_if_needed()  # its greeting is a plain failure, sent nothing
        connected = True
        mailer.send_messages([message])
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
        if connected and any(isinstance(error, TimeoutError) for error in _chain(failure)):
            raise OutcomeUnknown(
                f"the mail server did not answer in time once the mail to account {recipient} was handed over: "
                f"it may have been delivered (Message-ID {message_id})"
            ) from None
        unquote = _unquoting(recipient, mail.to)
        if all(unquote(str(error)) == str(error) for error in _chain(failure)):
            raise
        raise MailNotSent(
            f"{type(failure).__name__} sending the mail to account {recipient}: {unquote(str(failure))}"
        ) from None
    finally:
        mailer.close()


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
