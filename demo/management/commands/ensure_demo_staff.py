"""The demo staff login that ``scripts/run`` prints, on the developer's own database only.

Its password is printed and documented, so it must never reach a real
database: the command acts only on the embedded default (no
``DATABASE_URL`` in the environment, and the SQLite file beside the code),
and only on an account it registered itself. An existing account with the
name, registered by anyone else (a stranger through the API), is never made
staff. Production makes staff with ``createsuperuser``.
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.commands import GrantStaff, RegisterAccount, VerifyEmail
from accounts.events import AccountRegistered
from accounts.values import Email, Password, Username
from messaging import bus

# The idempotency key of the registration this command sends: running it
# again replays that registration, which is how the command knows the
# account is its own. (Keys from signed-out callers are scoped by their
# address at the HTTP edge and pages' keys are UUIDs, so nobody else can
# send this one.)
KEY = "ensure_demo_staff:{username}"


def on_the_embedded_database() -> bool:
    """Whether this process runs on the embedded default, the SQLite file beside the code."""
    return (
        "DATABASE_URL" not in os.environ
        and connection.vendor == "sqlite"
        and Path(connection.settings_dict["NAME"]).resolve() == Path(settings.EMBEDDED_DATABASE).resolve()
    )


class Command(BaseCommand):
    help = (
        "On the embedded SQLite database only, register a demo staff login for trying the product "
        "and print it; elsewhere do nothing (make staff with createsuperuser)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin-demo-password")
        parser.add_argument("--email", default="admin@example.com")

    def handle(self, *args, username, password, email, **options):
        if not on_the_embedded_database():
            self.stdout.write(
                "No demo staff login: this is not the embedded SQLite database. "
                "Make staff with `manage.py createsuperuser`."
            )
            return
        result = bus.dispatch(
            RegisterAccount(
                email=Email(email),
                username=Username(username),
                password=Password(password),
                idempotency_key=KEY.format(username=username.lower()),
            )
        )
        if result.rejection:
            raise CommandError(self._refusal(username, result.rejection.code, result.rejection.reason))
        registered = result.events[0]
        if not isinstance(registered, AccountRegistered):  # the e-mail is someone else's: no account was made
            raise CommandError(self._refusal(username, "account_already_exists", ""))
        bus.dispatch(VerifyEmail(account_id=registered.account_id))
        bus.dispatch(GrantStaff(account_id=registered.account_id))
        if result.replayed:
            self.stdout.write(f"Demo staff login: {username} (already there; password as first printed)")
        else:
            self.stdout.write(f"Demo staff login: {username} / {password}")

    @staticmethod
    def _refusal(username: str, code: str, reason: str) -> str:
        if code in ("account_already_exists", "username_taken"):
            return (
                f"An account named {username!r} (or with that e-mail) exists and this command did not make it; "
                "it is not made staff. Choose another --username, or make staff with `manage.py createsuperuser`."
            )
        if code == "idempotency_key_reused":
            return f"The demo login {username!r} was made earlier with another e-mail or password; it is unchanged."
        return f"{code}: {reason}"
