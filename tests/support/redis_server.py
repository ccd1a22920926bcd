"""A throwaway Redis server for tests and the benchmark: a broker on a free
port of 127.0.0.1, in a temporary directory, keeping nothing on disk
(``--save '' --appendonly no``), that a test may stop and start again on
the same port (a broker that goes away and comes back empty)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from config.celery import app
from tests.support.pg_cluster import _free_port

REDIS_SERVER = Path(os.environ.get("REDIS_SERVER", "/usr/bin/redis-server"))


class RedisServer:
    """One ``redis-server`` process; ``url`` stays the same across restarts."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop the server at once; what it held is gone (nothing is saved)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def throwaway_redis():
    """Yield a started ``RedisServer``, stopped and removed afterwards."""
    if not REDIS_SERVER.exists():
        raise RuntimeError(f"{REDIS_SERVER} not found (scripts/setup --browser installs it; or set REDIS_SERVER)")
    directory = Path(tempfile.mkdtemp(prefix="redis-test-"))
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def publishing_to(url: str):
    """This process's Celery app publishes to ``url`` for the block, as a web
    process started with ``CELERY_BROKER_URL`` would: its connection and
    producer pools are dropped on the way in and out, so that none made for
    another broker is reused."""

    def drop_pools():
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    configured = app.conf.CELERY_BROKER_URL  # the name config.settings gives it
    drop_pools()
    app.conf.CELERY_BROKER_URL = url
    try:
        yield
    finally:
        drop_pools()
        app.conf.CELERY_BROKER_URL = configured
