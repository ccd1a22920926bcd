import logging
import signal
import time
from collections import Counter

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from messaging import bus, queries
from messaging.delivery import claim_due

logger = logging.getLogger("messaging.relay")


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
        # The relay never retries a dead letter itself: say so, where whoever
        # runs it (or reads a worker's log) sees it.
        dead = queries.dead_letters()
        if dead:
            self.stderr.write(self.style.WARNING(_dead_letters(dead)))
        if not loop:
            totals = self._drain(batch)
        else:
            totals = self._loop(batch, interval)
        summary = _describe(totals) if totals else "nothing was due"
        dead = queries.dead_letters()
        if dead:
            summary += f"; {_dead_letters(dead)}"
        self.stdout.write(f"relay finished: {summary}")

    def _round(self, batch) -> tuple[int, Counter]:
        ids = claim_due(batch)
        outcomes = bus.deliver_all(ids) if ids else Counter()
        if outcomes:
            self.stdout.write(_describe(outcomes))
        return len(ids), outcomes

    def _drain(self, batch) -> Counter:
        """Round after round until what is due is done (or failed, waiting for its retry)."""
        totals = Counter()
        while True:
            claimed, outcomes = self._round(batch)
            totals += outcomes
            if claimed < batch:
                return totals

    def _loop(self, batch, interval) -> Counter:
        """Poll until told to stop; a lost database connection is reopened on
        the next round instead of ending the worker."""
        stopping = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        totals = Counter()
        while not stopping:
            close_old_connections()
            try:
                claimed, outcomes = self._round(batch)
            except (OperationalError, InterfaceError) as error:
                logger.warning("database unavailable (%s); retrying in %.0fs", error, interval)
                connection.close()
                claimed, outcomes = 0, Counter()
            totals += outcomes
            if claimed < batch and not stopping:
                time.sleep(interval)
        return totals


def _dead_letters(count: int) -> str:
    return f"{count} dead-lettered deliveries need an operator: manage.py deliveries list --status dead"


def _describe(outcomes) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
