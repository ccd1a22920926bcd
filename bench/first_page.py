"""How long a fresh clone takes to serve its first page: ``git clone`` of
this checkout's current branch into a temporary directory, then
``scripts/run`` until ``/`` answers 200, twice: cold (no .venv: it is made
and the runtime lock installed, from pip's cache when it is warm) and warm
(the second start, everything in place).

    .venv/bin/python -m bench.first_page
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.gunicorn import free_port

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600


def first_page(clone: Path, log: Path) -> float:
    """Seconds from starting ``scripts/run`` until ``/`` answers 200; stops it after."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "DATABASE_URL"))}
    with open(log, "a") as output:
        started = time.monotonic()
        run = subprocess.Popen(
            [str(clone / "scripts" / "run")],
            cwd=clone,
            env={**env, "PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while time.monotonic() - started < TIMEOUT:
            if run.poll() is not None:
                sys.exit(f"scripts/run exited with {run.returncode}: see {log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.25)
        sys.exit(f"no first page within {TIMEOUT} s: see {log}")
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)


def main() -> None:
    branch = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="first-page-") as directory:
        clone, log = Path(directory) / "shop", Path(directory) / "run.log"
        subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(ROOT), str(clone)], check=True)
        cold = first_page(clone, log)
        warm = first_page(clone, log)
        print(f"first page of a fresh clone of {branch}: cold {cold:.1f} s (no .venv), warm {warm:.1f} s")
        print(log.read_text()[-1500:])


if __name__ == "__main__":
    main()
