import sys
from collections import Counter
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from accounts.commands import ForgetAccount
from accounts.events import AccountForgotten
from messaging import bus


class Command(BaseCommand):
    help = (
        "Forget again, in a database restored from a backup, the accounts forgotten since the backup "
        "was taken: FILE (or - for standard input) holds their ids, one a line, as `manage.py "
        "forgotten_accounts --since` prints them from the database being replaced. Each is a "
        "ForgetAccount, which changes nothing for an account already forgotten; it says, for each id, "
        "what it did."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The ids to forget, one a line ('-': standard input).")

    def handle(self, *args, file, **options):
        account_ids = _read_ids(file)
        outcomes = Counter()
        for account_id in account_ids:
            result = bus.dispatch(ForgetAccount(account_id=account_id))
            if result.rejection is not None:
                outcome = f"not forgotten: {result.rejection.reason}"
            elif any(isinstance(event, AccountForgotten) for event in result.events):
                outcome = "forgotten again"
            else:
                outcome = "already forgotten"
            outcomes[outcome.partition(":")[0]] += 1
            self.stdout.write(f"{account_id}: {outcome}")
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        self.stderr.write(f"{len(account_ids)} account(s): {summary or 'none given'}")


def _read_ids(file: str) -> list[UUID]:
    try:
        text = sys.stdin.read() if file == "-" else open(file).read()
    except OSError as error:
        raise CommandError(f"cannot read {file}: {error.strerror}", returncode=2) from None
    ids, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not (line := line.strip()) or line.startswith("#"):
            continue
        try:
            ids.append(UUID(line))
        except ValueError:
            bad.append(f"line {number}: {line!r}")
    if bad:
        raise CommandError(
            f"{file} holds what is no account id (nothing was forgotten): {'; '.join(bad)}", returncode=2
        )
    return list(dict.fromkeys(ids))
