"""The rolling deploy rehearsed (issue 26): release A and release B
(``tests.support.releases``: a mail policy renamed with an alias, one
policy retired, one added, the event upgraded with an upcaster) as real
processes against one PostgreSQL, deliveries in flight, A's web beside B's
relay, then A's relay beside B's web; and on Celery, A's worker beside
B's web, then (A's worker stopped) B's worker after A's web. Nothing lost, nothing doubled
(effects and mails counted), nothing dead-lettered, ``check_invariants``
clean."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest

from messaging.delivery import workers
from messaging.models import Delivery, StoredEvent, Subscription
from tests.support import releases
from tests.support.redis_server import throwaway_redis
from tests.support.smtp import mail_server
from tests.support.subprocesses import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT, DURING_B_RELAY, DURING_A_RELAY = 12, 12, 12
ALONE = ("--without-gossip", "--without-mingle", "--without-heartbeat")  # as tests/reliability/test_celery.py


class Release:
    """Processes of one release, their output in files the failure shows."""

    def __init__(self, name: str, directory: Path, env: dict):
        self.name, self.directory, self.env, self.started = name, directory, env, []

    def run(self, *args: str, **env) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tests.support.releases", self.name, *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def relay(self) -> subprocess.Popen:
        log = (self.directory / f"relay-{self.name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.releases", self.name, "relay_events", "--loop", "--interval", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def celery(self, *args: str) -> subprocess.Popen:
        """A Celery worker or beat of this release, in a session of its own
        (a SIGKILL takes its pool with it)."""
        log = (self.directory / f"celery-{self.name}-{args[0]}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.support.release_celery", *args, "-l", "WARNING"],
            cwd=ROOT,
            env={**self.env, "REHEARSAL_RELEASE": self.name},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def effects() -> Counter:
    """(effect, mark) -> how many times it was stored."""
    marks = dict(StoredEvent.objects.filter(type="Rehearsed").values_list("event_id", "payload__mark"))
    found = StoredEvent.objects.filter(type="EffectRecorded").values_list("payload__effect", "payload__source_event_id")
    return Counter((effect, marks[UUID(source)]) for effect, source in found)


def wait_until(condition, seconds: float, what: str, logs) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}\n{logs()}"
        time.sleep(0.3)


def state(smtp) -> str:
    """What is still open, and the mails sent: for a failure's report."""
    rows = Delivery.objects.filter(status__in=Delivery.OPEN).values_list("policy", "status", "attempts", "lease")
    added = Delivery.objects.filter(policy=releases.ADDED).count()
    return f"open: {list(rows)}\nadded: {added}, mails: {len(smtp.accepted)}"


def open_rows() -> int:
    return Delivery.objects.filter(status__in=Delivery.OPEN).count()


def test_two_releases_side_by_side_lose_nothing_and_double_nothing(tmp_path):
    with mail_server() as smtp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
            "PYTHONUNBUFFERED": "1",
            "REHEARSAL_SWEEP_SECONDS": "0.5",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        a, b = Release("A", tmp_path, env), Release("B", tmp_path, env)

        def logs() -> str:
            files = (f"--- {log.name}\n{log.read_text()[-4000:]}" for log in sorted(tmp_path.glob("*.log")))
            return "\n".join([*files, state(smtp)])

        try:
            # given: release A runs, with deliveries in flight (nothing delivered them yet)
            assert a.run("migrate", "--verbosity", "0").returncode == 0
            sent = a.run("send", str(IN_FLIGHT), "in-flight-", MESSAGING_DELIVER_ON_COMMIT="false")
            assert sent.returncode == 0, sent.stderr
            assert open_rows() == 3 * IN_FLIGHT

            # when: B migrates, B's relay runs, and A's web still serves
            migrated = b.run("migrate", "--verbosity", "0")
            assert migrated.returncode == 0, migrated.stderr
            b_start = Subscription.objects.get(name=releases.ADDED).starts_after
            relay_b = b.relay()
            served = a.run("send", str(DURING_B_RELAY), "a-web-")
            assert served.returncode == 0, served.stderr
            wait_until(
                lambda: (
                    Delivery.objects.filter(policy=releases.ADDED).count() == DURING_B_RELAY
                    and open_rows() == 0
                    and len(smtp.accepted) >= IN_FLIGHT + DURING_B_RELAY
                ),
                60,
                "B's relay delivers A's rows, and its sweep opens its new policy's",
                logs,
            )
            b.stop(relay_b)

            # then: A's relay beside B's web (a rollback's situation)
            relay_a = a.relay()
            served = b.run("send", str(DURING_A_RELAY), "b-web-", MESSAGING_DELIVER_ON_COMMIT="false")
            assert served.returncode == 0, served.stderr
            time.sleep(3)  # many rounds and sweeps of A's relay
            left = Delivery.objects.filter(status__in=Delivery.OPEN)
            assert left.count() == 3 * DURING_A_RELAY, logs()  # count (v2), the new mail name, the added policy
            assert not left.exclude(attempts=0).exists(), "A's relay counted an attempt"
            assert not Delivery.objects.filter(policy=releases.MAIL_OLD, event__payload__mark__startswith="b-web-")
            announced = workers.live()  # A's relay announced what it runs, and only it runs now
            assert [knows[releases.MAIL_OLD] for name, knows in announced.items() if name.endswith(" relay")] == [1]
            assert not any(releases.MAIL_NEW in knows for knows in announced.values())
            unknown = {found.policy for found in workers.unknown(threshold=0)}
            assert {releases.MAIL_NEW, releases.ADDED} <= unknown, unknown
            a.stop(relay_a)
            assert not any(name.endswith(" relay") for name in workers.live()), "a stopped relay withdraws"

            # finally: B's relay alone finishes
            drained = b.run("relay_events")
            assert drained.returncode == 0, drained.stderr
            wait_until(lambda: len(smtp.accepted) >= IN_FLIGHT + DURING_B_RELAY + DURING_A_RELAY, 20,
                       "every mail sent", logs)  # fmt: skip

            # nothing lost, nothing doubled, nothing dead-lettered
            assert open_rows() == 0
            assert not Delivery.objects.filter(status="dead").exists()
            assert not Delivery.objects.exclude(last_error="").exclude(status="skipped").exists()
            counted = effects()
            marks = list(StoredEvent.objects.filter(type="Rehearsed").values_list("payload__mark", "position"))
            assert len(marks) == IN_FLIGHT + DURING_B_RELAY + DURING_A_RELAY
            for mark, position in marks:
                assert counted["count", mark] == 1, mark
                assert counted["added", mark] == (1 if position > b_start else 0), mark
                assert counted["shipment", mark] <= (1 if mark.startswith("a-web-") else 0), mark
            subjects = Counter(message["Subject"] for message in smtp.accepted)
            assert subjects == Counter(f"confirmation {mark}" for mark, _ in marks)
            assert Subscription.objects.get(name=releases.RETIRED).retired_at is not None
            checked = b.run("check_invariants")
            assert checked.returncode == 0, checked.stdout + checked.stderr
        finally:
            for process in a.started + b.started:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)


def test_two_releases_side_by_side_on_celery(tmp_path, settings):
    with throwaway_redis() as broker, mail_server() as smtp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker.url,
            "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "MESSAGING_DELIVER_ON_COMMIT": "false",
            "MESSAGING_LEASE_SECONDS": "2",
            "MESSAGING_SWEEP_SECONDS": "1",
            "MESSAGING_LOG_LEVEL": "WARNING",
        }
        a, b = Release("A", tmp_path, env), Release("B", tmp_path, env)

        def logs() -> str:
            files = (f"--- {log.name}\n{log.read_text()[-4000:]}" for log in sorted(tmp_path.glob("*.log")))
            return "\n".join([*files, state(smtp)])

        try:
            # given: A migrated and runs its Celery worker and the beat; B migrated
            assert a.run("migrate", "--verbosity", "0").returncode == 0
            migrated = b.run("migrate", "--verbosity", "0")
            assert migrated.returncode == 0, migrated.stderr
            b_start = Subscription.objects.get(name=releases.ADDED).starts_after
            worker_a = a.celery("worker", "-Q", "database,outside,sweep", "-c", "1", *ALONE, "-n", "a@%h")
            a.celery("beat", "-s", str(tmp_path / "beat-schedule"))

            # when: B's web hands its deliveries to the broker, which A's worker consumes
            served = b.run("send", str(DURING_A_RELAY), "b-web-")
            assert served.returncode == 0, served.stderr
            time.sleep(6)  # several leases and sweeps

            # then: A's worker counted no attempt on what only B can run, and said so
            left = Delivery.objects.filter(status__in=Delivery.OPEN)
            assert left.count() == 3 * DURING_A_RELAY, logs()
            assert not left.exclude(attempts=0).exists(), "A's worker counted an attempt"
            announced = workers.live()  # A's worker announced what it runs
            assert [knows[releases.MAIL_OLD] for name, knows in announced.items() if " celery" in name] == [1]
            assert not any(releases.MAIL_NEW in knows for knows in announced.values())
            assert {found.policy for found in workers.unknown(threshold=0)} >= {releases.MAIL_NEW, releases.ADDED}

            # and A's web serves meanwhile; then A's worker stops (SIGTERM) and B's starts,
            # as the runbook's step 3 says (beside each other on an idle broker, Redis
            # may hand every sweep to the same worker: the test would wait on luck)
            served = a.run("send", str(DURING_B_RELAY), "a-web-")
            assert served.returncode == 0, served.stderr
            a.stop(worker_a)
            assert not any(name.split(" ")[0].endswith(f":{worker_a.pid}") for name in workers.live()), "withdrawn"
            b.celery("worker", "-Q", "database,outside,sweep", "-c", "1", *ALONE, "-n", "b@%h")
            wait_until(
                lambda: (
                    open_rows() == 0
                    and Delivery.objects.filter(policy=releases.ADDED).count() == DURING_A_RELAY + DURING_B_RELAY
                    and len(smtp.accepted) >= DURING_A_RELAY + DURING_B_RELAY
                ),
                90,
                "B's worker runs what only it knows, its sweep opens its new policy's",
                logs,
            )
            time.sleep(2)  # a double, if any, would show by now

            assert not Delivery.objects.filter(status="dead").exists()
            counted = effects()
            marks = list(StoredEvent.objects.filter(type="Rehearsed").values_list("payload__mark", "position"))
            for mark, position in marks:
                assert counted["count", mark] == 1, mark
                assert counted["added", mark] == (1 if position > b_start else 0), mark
                assert counted["shipment", mark] <= (1 if mark.startswith("a-web-") else 0), mark
            subjects = Counter(message["Subject"] for message in smtp.accepted)
            assert subjects == Counter(f"confirmation {mark}" for mark, _ in marks)
            checked = b.run("check_invariants")
            assert checked.returncode == 0, checked.stdout + checked.stderr
        finally:
            for process in a.started + b.started:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
