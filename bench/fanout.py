"""A big fan-out: an account with many followers deactivates while another
writer keeps writing. Runs inside ``bench.measure`` (Django set up)."""

import threading
import time
from uuid import uuid4

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from accounts.commands import DeactivateAccount, FollowAccount, UnfollowAccount
from accounts.models import Account, Follow
from accounts.projections import recount
from messaging import bus
from messaging.models import Delivery


def measure(followers: int) -> dict:
    """Seed an account followed by ``followers`` accounts (following half of
    them back), deactivate it, and let the relay settle what the request
    left: seconds to answer and to settle, the longest transaction of the
    fan-out, and the worst wait of a writer following and unfollowing
    meanwhile."""
    tag = uuid4().hex[:6]
    star = Account.objects.create(username=f"star{tag}", email=f"star{tag}@example.com")
    readers = Account.objects.bulk_create(
        (Account(username=f"r{tag}{i}", email=f"r{tag}{i}@example.com") for i in range(followers)), batch_size=2000
    )
    Follow.objects.bulk_create(
        [Follow(follower=reader, followee=star) for reader in readers]
        + [Follow(follower=star, followee=reader) for reader in readers[::2]],
        batch_size=2000,
    )
    writer_a, writer_b = Account.objects.bulk_create(
        [
            Account(username=f"wa{tag}", email=f"wa{tag}@example.com"),
            Account(username=f"wb{tag}", email=f"wb{tag}@example.com"),
        ]
    )
    recount([star.pk, writer_a.pk, writer_b.pk, *(reader.pk for reader in readers)])
    severed = Follow.objects.filter(follower=star).count() + Follow.objects.filter(followee=star).count()

    longest, began = [0.0], [0.0]
    conn = connections["default"]  # this thread's connection: the fan-out's transactions
    untimed = conn.set_autocommit

    def timed(autocommit, **kwargs):
        """An outermost atomic block turns autocommit off to begin and back on
        after its commit (and only then runs the commit hooks: not timed)."""
        if autocommit:
            longest[0] = max(longest[0], time.perf_counter() - began[0])
        else:
            began[0] = time.perf_counter()
        return untimed(autocommit, **kwargs)

    def begun(execute, sql, params, many, context):
        """SQLite's BEGIN IMMEDIATE waits for the write lock: the transaction
        holds it from when that returns."""
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.startswith("BEGIN"):
                began[0] = time.perf_counter()

    stop, waits = threading.Event(), []

    def writer():
        try:
            while not stop.is_set():
                for command in (
                    FollowAccount(follower_id=writer_a.pk, followee_id=writer_b.pk),
                    UnfollowAccount(follower_id=writer_a.pk, followee_id=writer_b.pk),
                ):
                    started = time.perf_counter()
                    bus.dispatch(command)
                    waits.append(time.perf_counter() - started)
        finally:
            connection.close()

    conn.set_autocommit = timed
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with conn.execute_wrapper(begun):
            started = time.perf_counter()
            fanned_out = bus.dispatch(DeactivateAccount(account_id=star.pk)).command.correlation_id
            answered = time.perf_counter() - started
            call_command("relay_events", verbosity=0, stdout=open("/dev/null", "w"))
            settled = time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
        conn.set_autocommit = untimed
    assert not Follow.objects.filter(followee=star).exists(), "the fan-out left follows behind"
    assert not Delivery.objects.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.DEAD],
        event__correlation_id=fanned_out,
    ).exists(), "the fan-out left deliveries undone"
    return {
        "follows": severed,
        "batch": settings.MESSAGING_FANOUT_BATCH_SIZE,
        "answered_s": answered,
        "settled_s": settled,
        "longest_transaction_ms": longest[0] * 1000,
        "writer_worst_wait_ms": max(waits) * 1000,
        "writer_p50_ms": sorted(waits)[len(waits) // 2] * 1000,
        "writes": len(waits),
    }
