"""The benchmark runs end to end in its short mode (figures come from a full run)."""

import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.postgres  # it starts its own cluster; once per suite run is enough


def test_the_benchmark_in_short_mode_prints_its_table_for_every_database():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--short"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=600
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for database in ("SQLite file", "SQLite tmpfs", "PostgreSQL"):
        assert database in result.stdout
    assert "bookshelf" in result.stdout and "workshop" in result.stdout
    assert all(read in result.stdout for read in ("profile", "relationship", "followers page"))
    # personal data: what sealing costs each flow, forgetting at two sizes of history (SQLite file and PostgreSQL)
    for database in ("SQLite file", "PostgreSQL"):
        for flow in ("bookshelf", "workshop"):
            assert f"| sealing personal data, {flow} on {database}: pipeline / floor sealed / unsealed" in result.stdout
        assert f"| forgetting a person on {database} with 10,000 stored events: p50 / p95" in result.stdout
        assert f"| forgetting on {database}: p50 at 10,000 / at 1,000 stored events |" in result.stdout
    # HTTP through gunicorn: latency cuts per kind of request
    assert "| read profile (GET accounts/{id}/), p50 / p95 / p99" in result.stdout
    assert "| follow (POST accounts/{id}/follow/), p50 / p95 / p99" in result.stdout
    # each request beside plain DRF: CPU and statements, product / plain
    assert "| POST an order (`POST orders/`) |" in result.stdout
    assert "| POST a follow with Idempotency-Key (`POST accounts/{id}/follow/`) |" in result.stdout


@pytest.mark.parametrize(
    ("section", "printed"),
    [
        ("ordered", "| deliveries | unordered (deliveries/s) | ordered by key (deliveries/s) | ordered / unordered |"),
        ("rebuild", "| events replayed | rebuild (s) | events/s | swap, writers held (ms) |"),
        ("backfill", "| live deliveries | sent | p50 / p95 (ms) | p95 / alone's | backfill (deliveries/s) |"),
    ],
)
def test_the_kernel_sections_in_short_mode_print_their_table(section, printed):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", section, "--short"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert printed in result.stdout
    if section == "rebuild":  # events, time, rate, swap, changed, reads, then no partial figure and no drift
        assert "| 0 | 0 |\n\nA zero-downtime rebuild of the follow counts at 2,000 follows with readers running (" in (
            result.stdout
        )
        assert "(no reader saw a partial figure in " in result.stdout
