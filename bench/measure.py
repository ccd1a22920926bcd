"""One database's measurements, in a process of its own (Django binds one
database per process): ``python -m bench.measure '<json config>'``.

Prints one JSON line of results on stdout; progress goes to stderr.
"""

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from accounts.events import AccountFollowed  # noqa: E402
from catalog.commands import AddBook  # noqa: E402
from catalog.values import Money  # noqa: E402
from config.celery import app as celery_app  # noqa: E402
from messaging import bus, tasks  # noqa: E402
from messaging import relay as runner  # noqa: E402
from messaging.delivery import claiming  # noqa: E402
from messaging.features import subscriptions  # noqa: E402
from messaging.models import Delivery  # noqa: E402
from messaging.registry import registry  # noqa: E402
from tests.support.redis_server import publishing_to, throwaway_redis  # noqa: E402

from . import backfill, fanout, flows, ordering, personal_data, reads, rebuild  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROTEAN_PYTHON = ROOT / ".venv-protean" / "bin" / "python"


def undone():
    """Deliveries not done yet (commands that wait for their time are
    schedules, not deliveries)."""
    return Delivery.objects.exclude(status__in=(Delivery.Status.DONE, Delivery.Status.SKIPPED))


def _say(text: str) -> None:
    print(f"  [{os.environ.get('BENCH_LABEL', '?')}] {text}", file=sys.stderr, flush=True)


def alternate(name: str, sides: dict, *, flows_per_round: int, rounds: int, tag: str = "") -> dict[str, float]:
    """Run each side's flows (``bench.flows``) in alternating rounds, after a
    warm-up, each round starting one side further on (so drift and order hit
    every side alike); commands/s of each side."""
    runs = list(sides.items())
    for index, (_, run) in enumerate(runs):
        for n in range(max(2, flows_per_round // 10)):
            run(f"{tag}w{name}{index}", n)
    elapsed = dict.fromkeys(sides, 0.0)
    commands = dict.fromkeys(sides, 0)
    for round_ in range(rounds):
        for index, (side, run) in enumerate(runs[round_ % len(runs) :] + runs[: round_ % len(runs)]):
            started = time.perf_counter()
            for n in range(flows_per_round):
                commands[side] += run(f"{tag}r{round_}s{index}", n)
            elapsed[side] += time.perf_counter() - started
            mail.outbox = []
    return {side: commands[side] / elapsed[side] for side in sides}


def compare(name: str, pipeline, floor, *, flows_per_round: int, rounds: int) -> dict:
    """Pipeline and floor in alternating rounds (``alternate``): commands/s
    of each and their ratio."""
    result = alternate(name, {"floor": floor, "pipeline": pipeline}, flows_per_round=flows_per_round, rounds=rounds)
    result["ratio"] = result["pipeline"] / result["floor"]
    _say(f"{name}: pipeline {result['pipeline']:.0f}/s, floor {result['floor']:.0f}/s, ratio {result['ratio']:.2f}")
    return result


def sealing_cost(size: dict) -> dict:
    """What sealing personal data costs each flow: its pipeline as the
    product runs it (sealed), the same pipeline with sealing switched off
    (``personal_data.unsealed``: exactly what sealing adds is left out) and
    the floor, in alternating rounds in the same process; each pipeline's
    ratio to the floor, and the share of the unsealed pipeline's throughput
    that sealing loses."""
    customer = flows.bookshelf_customer("sealing")
    bookshelf = partial(_with_customer, flows.bookshelf_pipeline, customer)
    both = {
        "bookshelf": (bookshelf, partial(_with_customer, flows.bookshelf_floor, customer)),
        "workshop": (flows.workshop_pipeline, flows.workshop_floor),
    }
    results = {}
    for name, (pipeline, floor) in both.items():
        sides = {"floor": floor, "sealed": pipeline, "unsealed": personal_data.run_unsealed(pipeline)}
        rates = alternate(name, sides, tag="p", **size)
        results[name] = {
            **rates,
            "sealed_ratio": rates["sealed"] / rates["floor"],
            "unsealed_ratio": rates["unsealed"] / rates["floor"],
            "loss": 1 - rates["sealed"] / rates["unsealed"],
        }
        _say(
            f"sealing, {name}: pipeline sealed {rates['sealed']:.0f}/s, unsealed {rates['unsealed']:.0f}/s, "
            f"floor {rates['floor']:.0f}/s, loss {results[name]['loss']:.1%}"
        )
    return results


def flatness(total_commands: int) -> dict:
    """The workshop flow through the pipeline, ``total_commands`` commands:
    throughput of the last tenth over that of the first (``ratio``). On a
    shared machine a change of load between the two tenths moves that
    ratio as much as the growing tables do, so the median flow's time of
    each tenth is reported too (``median_ratio``: first tenth's over the
    last's, deaf to bursts), and every tenth's throughput relative to the
    first (``tenths``), where a load change shows as a step."""
    flows_total = total_commands // flows.COMMANDS_PER_FLOW
    stamps = [time.perf_counter()]
    for n in range(flows_total):
        flows.workshop_pipeline("flat", n)
        stamps.append(time.perf_counter())
        if n and n % max(1, flows_total // 10) == 0:
            _say(f"flatness: {n}/{flows_total} flows")
    tenth = flows_total // 10
    first = stamps[tenth] - stamps[0]
    last = stamps[-1] - stamps[-1 - tenth]
    durations = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
    medians = [statistics.median(durations[k * tenth : (k + 1) * tenth]) for k in range(10)]
    return {
        "commands": flows_total * flows.COMMANDS_PER_FLOW,
        "ratio": first / last,
        "median_ratio": medians[0] / medians[-1],
        "tenths": [round(medians[0] / median, 2) for median in medians],
    }


def _relay_worker(batch: int) -> None:
    connections.close_all()  # a connection of its own, never the parent's
    while (claim := claiming.claim_due(batch)).ids:
        runner.deliver_claimed(claim)
    connections.close_all()


def _settle() -> None:
    """Deliver, untimed, whatever earlier measurements left open (the flows'
    mails wait for a relay), so that a timed drain runs only its own rows."""
    while (claim := claiming.claim_due(200)).ids:
        runner.deliver_claimed(claim)


def _leave_pending(deliveries: int, tag: str) -> None:
    """Dispatch ``deliveries`` AddBook commands, each opening one delivery
    that nothing runs yet (no on-commit delivery, no queue), once what was
    open before is settled."""
    _settle()
    settings.MESSAGING_DELIVER_ON_COMMIT, settings.MESSAGING_HAND_OFF = False, ""
    for n in range(deliveries):
        bus.dispatch(AddBook(title=f"Relay {tag}.{n}", author="Bench", price=Money(1)))
    settings.MESSAGING_DELIVER_ON_COMMIT = True


def relay(deliveries: int, workers: int) -> float:
    """Leave ``deliveries`` pending (each AddBook opens one), then drain them
    with ``workers`` processes claiming batches; deliveries/s."""
    _leave_pending(deliveries, str(workers))
    connections.close_all()
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    processes = [context.Process(target=_relay_worker, args=(200,)) for _ in range(workers)]  # relay_events' claim
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, "a relay worker failed"
    rate = deliveries / (time.perf_counter() - started)
    assert not undone().exists(), "the relay left deliveries undone"
    _say(f"relay with {workers} worker(s): {rate:.0f} deliveries/s")
    return rate


def celery_relay(deliveries: int, workers: int) -> float:
    """The same backlog through Celery: a throwaway Redis broker, one
    ``celery worker`` with ``workers`` pool processes on both queues; the
    rows are queued as the sweep queues them (one message each) once the
    worker answers, and the clock runs until every one is done."""
    _leave_pending(deliveries, f"celery {workers}")
    with throwaway_redis() as broker, publishing_to(broker.url):
        env = {**os.environ, "CELERY_BROKER_URL": broker.url, "MESSAGING_DELIVER_ON_COMMIT": "false"}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "-c",
                str(workers),
                "-Q",
                "database,outside",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not celery_app.control.ping(timeout=0.5):
                assert worker.poll() is None and time.monotonic() < deadline, "the Celery worker did not start"
            settings.MESSAGING_SWEEP_LIMIT = deliveries
            started = time.perf_counter()
            tasks.sweep()
            deadline = time.monotonic() + 60 + deliveries / 5
            while undone().exists():
                assert worker.poll() is None and time.monotonic() < deadline, "the Celery workers stopped delivering"
                time.sleep(0.01)
            rate = deliveries / (time.perf_counter() - started)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    _say(f"Celery with {workers} worker(s): {rate:.0f} deliveries/s")
    return rate


def database_version() -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def main(config: dict) -> dict:
    call_command("migrate", verbosity=0)
    flows.create_floor_outbox()
    results = {"version": database_version()}
    if config.get("flows_per_round"):
        results.update(compare_flows(config))
    if config.get("sealing"):
        results["sealing"] = sealing_cost(config["sealing"])
    if config.get("fanout"):
        results["fanout"] = fanout.measure(config["fanout"])
        _say(f"fan-out: {results['fanout']}")
    if config.get("reads"):
        results["reads"] = reads.measure(**config["reads"])
        _say(f"reads: {results['reads']}")
    if config.get("relay"):
        results["relay"] = {str(workers): relay(config["relay"], workers) for workers in (1, 4)}
        if connection.vendor == "postgresql":
            results["celery"] = {str(workers): celery_relay(config["relay"], workers) for workers in (1, 4)}
    if config.get("ordered"):
        results["ordered"] = ordering.measure(**config["ordered"])
        _say(f"ordered delivery: {results['ordered']}")
    if config.get("rebuild"):
        results["rebuild"] = rebuild.measure(**config["rebuild"])
        _say(f"rebuild without downtime: {results['rebuild']}")
    if config.get("backfill"):
        results["backfill"] = backfill.measure(**config["backfill"])
        _say(f"backfill beside live traffic: {results['backfill']}")
    if config.get("forgetting"):  # last: it grows the event log by a million rows
        results["forgetting"] = personal_data.measure(**config["forgetting"])
    return results


def replay_speed() -> dict:
    """A policy added to this history and replayed over every past follow
    (``manage.py replay``): events/s to open its deliveries, then to deliver
    them through the relay's claims."""
    _settle()
    policy = registry.subscribe(AccountFollowed, lambda event: None, name="bench.replayed")
    try:
        subscriptions.start_new()
        started = time.perf_counter()
        opened = subscriptions.replay(policy.name)
        middle = time.perf_counter()
        while (claim := claiming.claim_due(200)).ids:
            runner.deliver_claimed(claim)
        finished = time.perf_counter()
    finally:
        registry.unsubscribe(policy)
    result = {
        "events": opened,
        "open_per_s": opened / (middle - started),
        "end_to_end_per_s": opened / (finished - started),
    }
    _say(f"replay: {result}")
    return result


def protean(size: dict) -> dict:
    """The bookshelf flow through Protean (``bench/protean_flow.py``), in its
    own virtualenv and process, on an SQLite file beside this database's;
    ``{"skipped": why}`` when that virtualenv is not installed."""
    if not PROTEAN_PYTHON.exists():
        why = "Protean is not installed (scripts/setup-protean makes .venv-protean)"
        _say(f"protean: skipped: {why}")
        return {"skipped": why}
    path = Path(settings.DATABASES["default"]["NAME"]).with_name("protean.sqlite3")
    path.unlink(missing_ok=True)
    completed = subprocess.run(
        [
            str(PROTEAN_PYTHON),
            str(ROOT / "bench" / "protean_flow.py"),
            str(path),
            str(size["flows_per_round"]),
            str(size["rounds"]),
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    path.unlink(missing_ok=True)
    result = json.loads(completed.stdout.splitlines()[-1])
    _say(f"protean: bookshelf {result['commands_per_s']:.0f}/s")
    return result


def compare_flows(config: dict) -> dict:
    customer = flows.bookshelf_customer("bench")
    size = {"flows_per_round": config["flows_per_round"], "rounds": config["rounds"]}
    results = {
        "bookshelf": compare(
            "bookshelf",
            partial(_with_customer, flows.bookshelf_pipeline, customer),
            partial(_with_customer, flows.bookshelf_floor, customer),
            **size,
        ),
        "workshop": compare("workshop", flows.workshop_pipeline, flows.workshop_floor, **size),
    }
    if config.get("protean") and connection.vendor == "sqlite":
        peer = protean(config["protean"])
        if "commands_per_s" in peer:
            peer["ratio"] = peer["commands_per_s"] / results["bookshelf"]["floor"]
        results["bookshelf"]["protean"] = peer
    if config.get("flatness"):
        results["flatness"] = flatness(config["flatness"])
    if config.get("replay"):
        results["replay"] = replay_speed()
    return results


def _with_customer(run, customer, tag, n):
    return run(tag, n, customer)


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
