"""The Celery app the tests' workers run (``celery -A tests.support.celery_app
worker``): the project's own (``config.celery``), plus a policy that counts
its effects, registered in every worker process (and in the main one,
which announces what the worker runs), so that a delivery run
twice would show as a second ``EffectCounted`` for one event."""

from celery import signals

from catalog.events import BookAdded
from config.celery import app
from messaging.registry import registry
from tests.support.counting import COUNTING_POLICY, register_counting

__all__ = ["app"]


@signals.worker_init.connect
@signals.worker_process_init.connect
def _wire_counting(**_):
    if COUNTING_POLICY not in registry.policies:  # a pool process forked from a main process that has it
        register_counting(registry, on=BookAdded)
