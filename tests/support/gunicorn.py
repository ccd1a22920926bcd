"""gunicorn as the product serves it (``config/gunicorn.py``), on a free
port of 127.0.0.1, for tests and the load script."""

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int, *options: str, workers: int = 1, env: dict, **popen) -> subprocess.Popen:
    """Start gunicorn serving ``config.wsgi`` on ``port`` with ``workers``;
    ``options`` go to gunicorn, ``popen`` to ``subprocess.Popen``."""
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), *options]
    return subprocess.Popen(command, cwd=ROOT, env=env, **popen)
