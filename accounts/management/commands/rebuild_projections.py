from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import projections


class Command(BaseCommand):
    help = "Rebuild the follower and following counts from the follows; reports how many accounts drifted."

    def handle(self, *args, **options):
        with transaction.atomic():
            corrected = projections.rebuild()
        self.stdout.write(f"follow counts: corrected {corrected} account(s)")
