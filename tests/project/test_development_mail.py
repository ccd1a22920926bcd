"""Mail in development: the links in it lead to the server ``scripts/run``
started, on whatever ``PORT`` it was given."""

import os
import subprocess
import sys

from django.conf import settings


def site_url(**env) -> str:
    """The ``SITE_URL`` a fresh process (a relay worker) reads in ``env``."""
    environment = {name: value for name, value in os.environ.items() if name not in ("SITE_URL", "PORT")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.SITE_URL)"],
        cwd=settings.BASE_DIR,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_links_lead_to_the_port_scripts_run_serves_on():
    # when
    url = site_url(PORT="9000")

    # then
    assert url == "http://127.0.0.1:9000"


def test_without_a_port_links_lead_to_the_default_one():
    # when
    url = site_url()

    # then
    assert url == "http://127.0.0.1:8000"


def test_a_site_url_set_wins_over_the_port():
    # when
    url = site_url(PORT="9000", SITE_URL="https://shop.example.com")

    # then
    assert url == "https://shop.example.com"
