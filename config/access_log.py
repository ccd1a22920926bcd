"""No secret of a URL in the logs we write.

A password-reset link and an e-mail verification link carry their token in
their path, the first time they are followed (each view then moves it into
the session and redirects to an address without it). ``redact`` replaces
such tokens, and any ``token=`` or ``key=`` query parameter, with
``[redacted]``; gunicorn's access log (``RedactingLogger``, set as
``logger_class`` in ``config/gunicorn.py``) and the request's tracing span
(``config.telemetry``) pass what they record through it. A TLS proxy in
front keeps its own access log: configure it likewise (docs/security.md).
"""

import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_SECRETS = (
    # /password-reset/<uidb64>/<token>/ (not Django's own /<uidb64>/set-password/, which carries none)
    (re.compile(r"(/password-reset/[^/?#\s]+/)(?!set-password/)[^/?#\s]+"), rf"\1{REDACTED}"),
    # /verify-email/<token>/ (not /verify-email/again/)
    (re.compile(r"(/verify-email/)(?!again/)[^/?#\s]+"), rf"\1{REDACTED}"),
    (re.compile(r"([?&](?:token|key)=)[^&#\s\"]+", re.IGNORECASE), rf"\1{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` (a path, a request line, a referrer) with every URL secret replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingLogger(Logger):
    """gunicorn's logger, whose access log lines hold no URL secret: every
    text an access log format may use (the request line, the path, the query,
    the referrer, any header) is redacted first."""

    def atoms(self, resp, req, environ, request_time):
        return {
            name: redact(value) if isinstance(value, str) else value
            for name, value in super().atoms(resp, req, environ, request_time).items()
        }
