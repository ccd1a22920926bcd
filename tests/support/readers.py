"""Readers of the follow counts running beside a rebuild, each in a thread
on a connection of its own, noting every partial figure they read."""

import threading
from dataclasses import dataclass, field

from django.db import connection


def figures() -> tuple[int, int]:
    """(followers counted by the read model, follows) in one statement, so
    one snapshot: equal at every commit, as the counts commit with the follows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COALESCE(SUM(followers_count), 0) FROM accounts_accountstats), "
            "(SELECT COUNT(*) FROM accounts_follow)"
        )
        return cursor.fetchone()


@dataclass
class Readers:
    """``count`` reader threads, reading until ``stop``; ``reads`` and the
    ``partial`` figures they saw (read model, truth)."""

    count: int = 2
    reads: int = 0
    partial: list[tuple[int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> "Readers":
        self._threads = [threading.Thread(target=self._read) for _ in range(self.count)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                counted, follows = figures()
                with self._lock:
                    self.reads += 1
                    if counted != follows:
                        self.partial.append((counted, follows))
        finally:
            connection.close()
