from django.core.management.base import BaseCommand, CommandError

from accounts import sealing
from messaging.progress import progress


class Command(BaseCommand):
    help = (
        "Seal personal data a database still holds in clear (registrations, mails, refusals and stored "
        "answers written before personal data was declared, or by an older release running beside this "
        "one): in batches, each committed on its own, so it resumes where it stopped. The migration "
        "accounts.0005 ran it once; check_invariants says when to run it again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=sealing.BATCH, help=f"Rows per transaction (default {sealing.BATCH})."
        )

    def handle(self, *args, batch, **options):
        if batch < 1:
            raise CommandError("--batch is at least 1", returncode=2)
        with progress(self.stderr) as display:
            done = sealing.seal_history(batch_size=batch, progress=display.by_label(unit="rows"))
        for name, count in done.items():
            self.stdout.write(f"{name}: {count}")
