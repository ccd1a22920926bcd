from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...conf import conf
from ...features import retention
from ...progress import progress


class Command(BaseCommand):
    help = (
        "Remove idempotency records (commands and HTTP answers) and settled deliveries (done, skipped or discarded) "
        "older than RETENTION_DAYS (default 30), in batches, where the exactly-once ledger no longer needs them: "
        "each policy's start mark moves past the events whose deliveries go, so none is ever delivered again. "
        "Events stay. Examples: prune --dry-run; prune --days 90 --batch 5000"
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Retention in days (default RETENTION_DAYS).")
        parser.add_argument("--batch", type=int, default=1000, help="Rows per transaction (default 1000).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed, remove nothing.")

    def handle(self, *args, days, batch, dry_run, **options):
        days = conf.MESSAGING_RETENTION_DAYS if days is None else days
        if batch < 1 or days < 1:
            raise CommandError("--batch and --days must be at least 1", returncode=2)
        before = timezone.now() - timedelta(days=days)
        with progress(self.stderr) as display:
            pruned = retention.prune(
                before=before, batch=batch, dry_run=dry_run, progress=display.by_label(unit="rows removed")
            )
        verb = "would remove" if dry_run else "removed"
        for item in pruned:
            mark = f" (start #{item.mark[0]} -> #{item.mark[1]})" if item.mark and item.mark[0] != item.mark[1] else ""
            self.stdout.write(f"{item.what}: {verb} {item.rows}{mark}")
        self.stdout.write(f"{verb} {sum(item.rows for item in pruned)} rows older than {days} days")
