"""The Celery application: the transport of background deliveries when a
broker is configured (``CELERY_BROKER_URL``).

    celery -A config worker -Q database     # the database's policies
    celery -A config worker -Q outside,outside_backfill   # outside effects (mail), live and replayed
    celery -A config worker -Q backfill     # a replay's deliveries, at their pace
    celery -A config worker -Q sweep -c 1   # the sweep (or add it to a database worker's -Q)
    celery -A config beat                   # one in all: the periodic sweep

Its settings are the ``CELERY_*`` names in ``config.settings``. The tasks
are listed explicitly (``messaging.tasks``), not discovered. OpenTelemetry,
when configured, is set up in each pool process (the default prefork pool).
"""

import os

from celery import Celery, signals

from . import telemetry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config", include=["messaging.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


@signals.worker_process_init.connect(weak=False)
def _set_up_telemetry(**_):
    """OpenTelemetry in each pool process, after the fork (see config.telemetry)."""
    telemetry.setup()
