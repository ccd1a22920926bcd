from django.core.management.base import BaseCommand, CommandError

from messaging import personal
from messaging.models import PersonalDataKey
from messaging.progress import progress


class Command(BaseCommand):
    help = (
        "Rewrap every person's data key with the first key of PERSONAL_DATA_KEYS, a batch per transaction. "
        "To rotate: put a new key first in PERSONAL_DATA_KEYS and keep the old one after it, restart every "
        "process, run this, then drop the old key. Sealed data is not rewritten: only the keys that seal it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=500, help="Keys per transaction (default 500).")

    def handle(self, *args, batch, **options):
        if batch < 1:
            raise CommandError("--batch is at least 1", returncode=2)
        current = personal.wrapping_keys()[0].id
        to_rewrap = PersonalDataKey.objects.filter(key__isnull=False).exclude(wrapped_with=current)
        done = 0
        with progress(self.stderr) as display:
            bar = display.bar("rewrap", to_rewrap.count(), unit="keys")
            for count in personal.rewrap(batch_size=batch):
                done += count
                bar.update(done)
        left = to_rewrap.count()
        self.stdout.write(f"{done} key(s) rewrapped with key {current}; {left} wrapped by another key")
