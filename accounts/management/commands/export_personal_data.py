import json
import os
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from accounts import queries
from messaging.features import access


class Command(BaseCommand):
    help = (
        "Export everything the product holds about one person (the right of access): their profile, "
        "follows, blocks, orders and their events with personal data in clear, as one JSON document. "
        "Printed to standard output, or written to --output (readable by its owner only). Another "
        "person appears by id only. Exits 2 when no account is named so."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="The account: @username (any case) or its id (a UUID).")
        parser.add_argument(
            "--output", metavar="FILE", help="Write the document to FILE (created 0600) instead of printing it."
        )

    def handle(self, *args, user, output, **options):
        document = access.export(_account_id(user))
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error.strerror}", returncode=2) from None
        with open(descriptor, "w", encoding="utf-8") as file:
            file.write(text + "\n")
        self.stdout.write(f"Wrote the personal data of {document['account_id']} to {output}.")


def _account_id(user: str) -> UUID:
    """The id ``user`` (``@username`` or a UUID) names; ``CommandError`` (exit 2) if no account."""
    if user.startswith("@"):
        try:
            return queries.account_id_for_username(user.removeprefix("@"))
        except LookupError:
            raise CommandError(f"no account is named {user}", returncode=2) from None
    try:
        account_id = UUID(user)
    except ValueError:
        raise CommandError(f"{user!r} is neither @username nor an account id (a UUID)", returncode=2) from None
    if not queries.account_exists(account_id):
        raise CommandError(f"no account has the id {account_id}", returncode=2)
    return account_id
