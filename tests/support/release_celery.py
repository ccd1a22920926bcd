"""The Celery app of one rehearsal release (``celery -A
tests.support.release_celery worker`` with ``REHEARSAL_RELEASE=A`` or
``B``): the project's app, plus that release's wiring
(``tests.support.releases``) in the worker's main process, which announces
what the worker runs, and so in its pool processes, forked from it."""

import os

import django
from celery import signals

from config.celery import app

__all__ = ["app"]


@signals.worker_init.connect
def _wire_the_release(**_):
    from tests.support import releases

    django.setup()
    releases.wire(os.environ["REHEARSAL_RELEASE"])
