"""gunicorn settings: ``gunicorn -c config/gunicorn.py config.wsgi``.

Every value can be overridden from the environment (``WEB_CONCURRENCY``,
``GUNICORN_BIND``, ...) or the command line.
"""

import multiprocessing
import os

from config import telemetry
from messaging.operations.logging import logging_config

# Loopback (or a unix socket, unix:/run/shop.sock): only the TLS proxy may
# reach gunicorn, since X-Forwarded-For is trusted to name the client.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
# A request holds its transaction and its on-commit deliveries; give it time,
# but not forever.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 2000))
max_requests_jitter = 200
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# Its access log never holds a reset or verification link's token (config.access_log).
logger_class = "config.access_log.RedactingLogger"
# With LOG_FORMAT=json, gunicorn's own lines (its errors and the access log,
# which then names the request's correlation id from the response header)
# go through the same console handler and JSON formatter as Django's.
if os.environ.get("LOG_FORMAT", "text") == "json":
    logconfig_dict = logging_config("json", extra_loggers=("gunicorn.error", "gunicorn.access"))
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """OpenTelemetry, when the environment asks for it, set up in each worker
    after the fork: the exporting threads of a process set up before it
    would not run in its children."""
    telemetry.setup()
