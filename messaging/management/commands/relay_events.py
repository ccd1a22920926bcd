import logging
import signal
import time
from collections import Counter

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from messaging import relay
from messaging.delivery import claiming, workers
from messaging.features import schedules, subscriptions
from messaging.operations import metrics

from ...conf import conf

logger = logging.getLogger("messaging.relay")

MAX_WAIT = 10.0  # seconds between two tries of a database that is down at start
PACE_WAIT = 0.1  # seconds a one-shot relay waits for the backfill lane's pace between rounds


class Command(BaseCommand):
    help = (
        "Deliver committed events to their policies: whatever is pending (after a crash) "
        "or due for a retry; dispatch the scheduled commands whose time has come. "
        "Once by default; --loop keeps polling as a worker until SIGTERM or SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, polling for due deliveries.")
        parser.add_argument("--batch", type=int, default=200, help="Deliveries claimed per round (default 200).")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds to sleep when nothing is due (default 1)."
        )
        parser.add_argument(
            "--only",
            choices=["database", "outside"],
            help="Deliver only the database's policies, or only outside effects such as mail (default: both), "
            "so that a slow mail server never delays the database's policies.",
        )

    def handle(self, *args, loop, batch, interval, only, **options):
        self.lanes = {"database": [False], "outside": [True]}.get(only, [False, True])
        self.next_sweep = 0.0
        self.stopping = []
        self.announcer = workers.Announcer("relay") if loop else None
        if loop:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stopping.append(True))
            # A worker (re)started during an outage waits for the database
            # instead of exiting: a supervisor may not restart it again.
            self._wait_for_database(interval)
            if self.stopping:
                self.stdout.write("relay finished: stopped before the database came back")
                return
        # The relay never retries a dead letter itself: say so, where whoever
        # runs it (or reads a worker's log) sees it.
        dead = metrics.dead_letters()
        if dead:
            self.stderr.write(self.style.WARNING(_dead_letters(dead)))
        if not loop:
            totals = self._drain(batch)
        else:
            totals = self._loop(batch, interval)
        summary = _describe(totals) if totals else "nothing was due"
        try:
            dead = metrics.dead_letters()
        except (OperationalError, InterfaceError):  # stopped during an outage: nothing to add
            dead = 0
        if dead:
            summary += f"; {_dead_letters(dead)}"
        self.stdout.write(f"relay finished: {summary}")

    def _wait_for_database(self, interval) -> None:
        """Connect, or wait and try again (a log line each time, at most
        every ``MAX_WAIT`` seconds), until connected or told to stop."""
        wait = interval
        while not self.stopping:
            try:
                connection.ensure_connection()
                return
            except (OperationalError, InterfaceError) as error:
                logger.warning("database unavailable at start (%s); waiting for the database, %.0fs", error, wait)
                connection.close()
            _sleep(wait, self.stopping)
            wait = min(wait * 2, MAX_WAIT)

    def _round(self, batch) -> tuple[int, Counter]:
        """The schedules that are due, then one claim per lane: the
        database's policies first, then outside effects; every
        MESSAGING_SUBSCRIPTION_SWEEP_SECONDS, the subscriptions' sweep first.
        A looping relay renews its announcement of what it can run first."""
        if self.announcer is not None:
            self.announcer.renew()
        if time.monotonic() >= self.next_sweep:
            if swept := subscriptions.sweep():
                self.stdout.write(f"the sweep opened {swept} deliveries a previous release left out")
            self.next_sweep = time.monotonic() + conf.MESSAGING_SUBSCRIPTION_SWEEP_SECONDS
        scheduled = schedules.dispatch_due(batch) if False in self.lanes else Counter()
        claimed, outcomes = scheduled.total(), Counter({f"scheduled {status}": n for status, n in scheduled.items()})
        for outside in self.lanes:
            lane_claimed, lane_outcomes = relay.deliver_due(batch, outside=outside)
            outcomes += lane_outcomes
            claimed = max(claimed, lane_claimed)
        if outcomes:
            self.stdout.write(_describe(outcomes))
        return claimed, outcomes

    def _drain(self, batch) -> Counter:
        """Round after round until nothing is due: what was due is done or
        failed (waiting for its retry), and so is what its deliveries opened
        (the batches of a fan-out, when nothing delivered them on commit).
        A replay's deliveries (the backfill lane) are due all along but
        claimed at their pace: it waits for the pace between rounds."""
        totals = Counter()
        while True:
            claimed, outcomes = self._round(batch)
            totals += outcomes
            if not claimed:
                if not any(claiming.backfill_waits(outside=outside) for outside in self.lanes):
                    return totals
                time.sleep(PACE_WAIT)

    def _loop(self, batch, interval) -> Counter:
        """Poll until told to stop; a lost database connection is reopened on
        the next round instead of ending the worker."""
        stopping = self.stopping
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
        try:
            self.announcer.withdraw()
        except (OperationalError, InterfaceError):  # stopped during an outage: its lease runs out instead
            pass
        return totals


def _sleep(seconds: float, stopping: list) -> None:
    """Sleep ``seconds``, waking early when told to stop."""
    until = time.monotonic() + seconds
    while not stopping and time.monotonic() < until:
        time.sleep(min(0.1, until - time.monotonic()))


def _dead_letters(count: int) -> str:
    return f"{count} dead-lettered deliveries need an operator: manage.py deliveries list --status dead"


def _describe(outcomes) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(outcomes.items()))
