"""The load script runs end to end: gunicorn on PostgreSQL, no 5xx, invariants hold."""

import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.postgres  # it starts its own cluster; once per suite run is enough


def test_the_load_script_in_short_mode_reports_no_server_error_and_holding_invariants():
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", "--short"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "5xx: 0" in result.stdout
    assert "check_invariants: all" in result.stdout
    assert " req/s" in result.stdout
