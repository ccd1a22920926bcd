"""A small SMTP server on 127.0.0.1 for tests: it keeps every message it
accepted, and can be told to stall at one step of the conversation until
the test lets it go (a slow or hung mail server)."""

import email
import socketserver
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class MailServer:
    """What the test sees and steers. ``stall_before`` names the command
    (``"EHLO"``, ``"DATA-END"`` for the answer to a message, ``"QUIT"``)
    whose answer waits until ``go_on`` is set. ``slow_by`` seconds: how
    long it takes to answer a message it has already accepted (a server
    slower than the client's timeout)."""

    host: str = "127.0.0.1"
    port: int = 0
    stall_before: str | None = None
    go_on: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    accepted: list[email.message.Message] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)
    slow_by: float = 0.0

    def mailers(self, timeout: float) -> dict:
        """A ``MAILERS`` setting that sends here with ``timeout``."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": self.host, "port": self.port, "timeout": timeout},
            }
        }

    def _wait_if(self, step: str) -> None:
        if self.stall_before == step:
            self.stalled.set()
            self.go_on.wait(timeout=60)


class _Conversation(socketserver.StreamRequestHandler):
    def handle(self):
        server: MailServer = self.server.mail_server
        self._say("220 localhost test SMTP")
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                server._wait_if("EHLO")
                self._say("250 localhost")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                server._wait_if("DATA-END")
                server.accepted.append(email.message_from_bytes(data))
                server.received.set()
                time.sleep(server.slow_by)
                self._say("250 accepted")
            elif verb == "QUIT":
                server._wait_if("QUIT")
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")

    def _say(self, text: str) -> None:
        try:
            self.wfile.write(f"{text}\r\n".encode())
        except OSError:
            pass  # the client gave up (its timeout): nothing to tell it


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def mail_server(**options):
    """Run a ``MailServer`` for the duration of the block."""
    state = MailServer(**options)
    with _Server((state.host, 0), _Conversation) as tcp:
        tcp.mail_server = state
        state.port = tcp.server_address[1]
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            yield state
        finally:
            state.go_on.set()
            tcp.shutdown()
