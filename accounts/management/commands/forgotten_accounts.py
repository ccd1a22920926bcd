from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.queries import forgotten_since


class Command(BaseCommand):
    help = (
        "Print the id of every account forgotten at or after --since, one a line, oldest first: "
        "before restoring a backup taken at that time, run it on the database being replaced and "
        "give its output to `manage.py forget_again` on the restored one (docs/operations.md, "
        "'Backing up and restoring')."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            required=True,
            help="When the backup was taken: 2026-12-01, or 2026-12-01T03:00Z (a time without zone is UTC).",
        )

    def handle(self, *args, since, **options):
        for account_id in forgotten_since(_moment(since)):
            self.stdout.write(str(account_id))


def _moment(text: str):
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--since {text!r} is no date or time: give 2026-12-01 or 2026-12-01T03:00Z", returncode=2)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
