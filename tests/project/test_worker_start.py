"""What a web worker imports to start and answer its first request: not the
clients of services only a readiness probe checks (django-health-check's
checks module imports Redis's and DNS's, and Redis's the OpenTelemetry SDK's
metrics)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STARTS = """
import json, sys
import config.wsgi
from django.urls import get_resolver
get_resolver().resolve("/api/v1/orders/")
print(json.dumps(sorted(name for name in ("health_check.checks", "redis", "dns") if name in sys.modules)))
"""


def test_a_worker_starts_without_the_readiness_checks_clients(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    completed = subprocess.run(
        [sys.executable, "-c", STARTS], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    assert json.loads(completed.stdout.splitlines()[-1]) == []
