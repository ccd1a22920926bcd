import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from messaging import bus
from messaging.delivery import due_deliveries


class Command(BaseCommand):
    help = (
        "Deliver committed events to their policies: whatever is pending (after a crash) "
        "or due for a retry. Once by default; --loop keeps polling as a worker until SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, polling for due deliveries.")
        parser.add_argument("--batch", type=int, default=200, help="Deliveries claimed per round (default 200).")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds to sleep when nothing is due (default 1)."
        )

    def handle(self, *args, loop, batch, interval, **options):
        self.stopping = False
        if loop:
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        totals = {}
        while True:
            close_old_connections()
            ids = due_deliveries(batch)
            outcomes = bus.deliver_all(ids) if ids else {}
            for status, count in outcomes.items():
                totals[status] = totals.get(status, 0) + count
            if outcomes:
                self.stdout.write(self._describe(outcomes))
            if not loop or self.stopping:
                break
            if len(ids) < batch:
                time.sleep(interval)  # a SIGTERM during the sleep ends the loop right after it
        self.stdout.write(f"relay finished: {self._describe(totals) if totals else 'nothing was due'}")

    def _stop(self, signum, frame):
        self.stopping = True

    @staticmethod
    def _describe(outcomes) -> str:
        return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
