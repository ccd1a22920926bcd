"""Mail in development, as a person reads it.

``EmailBackend`` is the development mail backend (``config/settings.py``
picks it when DEBUG is on and no ``EMAIL_URL`` is set): it prints each mail
to the console decoded, headers and text (Django's console backend prints
the MIME source, quoted-printable, which splits a long link with ``=``
line breaks), and keeps a copy in the ``DEVELOPMENT_MAILBOX`` directory,
where the staff page of sent mail (``console.views.sent_mail``) reads it,
whichever process sent it (the relay worker sends the mail, the web server
shows it). Never for production: the copies hold reset links.
"""

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

KEEP = 200  # the newest mails kept in the mailbox; older copies are deleted as new ones arrive


@dataclass(frozen=True)
class SentMail:
    """One mail as it was sent, decoded."""

    name: str  # its file in the mailbox
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    message_id: str
    body: str


def mailbox() -> Path | None:
    """The directory of sent mail copies, or ``None`` when none are kept."""
    directory = getattr(settings, "DEVELOPMENT_MAILBOX", None)
    return Path(directory) if directory else None


def sent_mails(limit: int = 50) -> list[SentMail]:
    """The ``limit`` newest mails of the mailbox, newest first (none without one)."""
    directory = mailbox()
    if directory is None or not directory.is_dir():
        return []
    return [_read(path) for path in sorted(directory.glob("*.eml"), reverse=True)[:limit]]


def readable(message) -> SentMail:
    """A ``email.message.EmailMessage`` (parsed with the default policy) as
    a ``SentMail``: headers as text, the plain-text body decoded."""
    body = message.get_body(preferencelist=("plain", "html"))
    date = message["Date"]
    return SentMail(
        name="",
        sent_at=parsedate_to_datetime(date) if date else None,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        message_id=str(message["Message-ID"] or ""),
        body=body.get_content().rstrip() if body is not None else "",
    )


def _read(path: Path) -> SentMail:
    sent = readable(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    return SentMail(**{**sent.__dict__, "name": path.name})


class EmailBackend(ConsoleEmailBackend):
    """Django's console backend (``stream`` option, stdout by default),
    printing each mail decoded, and keeping a copy of it in the
    ``DEVELOPMENT_MAILBOX`` directory when that is set."""

    def write_message(self, message):
        source = message.message().as_bytes()
        self._keep(source)
        sent = readable(email.message_from_bytes(source, policy=email.policy.default))
        headers = [("From", sent.sender), ("To", sent.to), ("Subject", sent.subject)]
        headers += [("Date", format_datetime(sent.sent_at) if sent.sent_at else ""), ("Message-ID", sent.message_id)]
        self.stream.write("".join(f"{name}: {value}\n" for name, value in headers))
        self.stream.write(f"\n{sent.body}\n" + "-" * 79 + "\n")

    @staticmethod
    def _keep(source: bytes) -> None:
        directory = mailbox()
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}-{uuid4().hex[:8]}.eml").write_bytes(source)
        for old in sorted(directory.glob("*.eml"), reverse=True)[KEEP:]:
            old.unlink(missing_ok=True)
