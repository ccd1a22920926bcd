"""Running commands from several threads at once, each on its own connection."""

import threading
from collections.abc import Callable

from django.db import connection


def run_concurrently(tasks: list[Callable[[], object]]) -> list[object]:
    """Start every task at the same moment in its own thread; return what
    each returned, or the exception it raised, in task order."""
    results: list[object] = [None] * len(tasks)
    start = threading.Barrier(len(tasks))

    def run(index: int, task: Callable[[], object]):
        try:
            start.wait()
            results[index] = task()
        except Exception as error:  # reported to the test, which asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, task)) for i, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
