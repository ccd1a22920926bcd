"""Every command in the README, run as a newcomer runs it: ``scripts/run``
from a copy of the tree, the API tour with curl against a live demo shop,
and the shell tour through bash in the virtualenv. ``scripts/test`` is the
one command not run here: CI runs it (``.ci/run``)."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.models import Account, Block, Follow
from catalog.models import Book
from orders.models import Order
from tests.support.gunicorn import free_port

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, as in the product: policies run on commit

README = (settings.BASE_DIR / "README.md").read_text()


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def block_under(heading: str) -> str:
    """The first shell block after the README's heading ``heading`` (any level)."""
    (after,) = re.findall(rf"^#+ {re.escape(heading)}\n(.*)", README, re.M | re.S)
    return shell_blocks(after)[0]


RUN, TEST = block_under("Run it"), block_under("Test it")
API_TOUR, SHELL_TOUR = block_under("API"), block_under("The shell")


def test_every_command_in_the_readme_is_one_these_tests_run():
    assert shell_blocks(README) == [RUN, TEST, API_TOUR, SHELL_TOUR]
    assert RUN.strip() == "scripts/run"
    assert TEST.strip() == "scripts/test"
    assert "exec scripts/test" in (settings.BASE_DIR / ".ci" / "run").read_text()


@pytest.fixture
def demo_shop(embedded_database):
    call_command("demo_shop", stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the API tour uses curl and jq")
def test_the_api_tour_runs_with_curl_against_the_demo_shop(demo_shop, live_server):
    # given
    script = API_TOUR.replace("http://127.0.0.1:8000", live_server.url)

    # when
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)

    # then
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    placed = [answer for answer in answers if answer.get("status") == "PENDING"]
    assert len(placed) == 1, run.stdout
    assert Order.objects.get(pk=placed[0]["id"]).customer_id == Account.objects.get(username="ada").pk
    assert {"code": "order_too_large"}.items() <= answers[-1].items()


def test_the_shell_tour_runs_in_the_virtualenv_on_the_demo_shop(demo_shop):
    # given: the shell, in the checkout, on the demo shop's database
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}"}
    connection.close()  # the tour's processes write to the file meanwhile

    # when
    run = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", SHELL_TOUR],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # then: every line ran, the refused follow was refused, the rules hold
    assert run.returncode == 0, run.stdout + run.stderr
    alice, bob = Account.objects.get(username="alice"), Account.objects.get(username="bob")
    assert Block.objects.filter(blocker=bob, blocked=alice).exists()
    assert not Follow.objects.filter(follower=alice, followee=bob).exists()
    assert "refused" in run.stdout
    ada = Account.objects.get(username="ada")
    gatsby = Book.objects.get(isbn="9780743273565")
    latest = Order.objects.filter(customer_id=ada.pk).latest("placed_at")
    assert [(item.book_id, item.quantity) for item in latest.items.all()] == [(gatsby.pk, 2)]
    assert "PlaceOrder" in run.stdout  # the trace of the latest requests names the order's command


def test_scripts_run_serves_the_demo_shop_from_a_copy_of_the_tree(tmp_path):
    # given: the tracked files, as a fresh clone has them, beside the same virtualenv
    tree = tmp_path / "shop"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = settings.BASE_DIR / name.decode()
        if source.is_file():
            (tree / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name.decode())
    (tree / ".venv").symlink_to(settings.BASE_DIR / ".venv")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "SQLITE_TEST_DATABASE")}

    # when
    served = subprocess.Popen(
        ["scripts/run"],
        cwd=tree,
        env={**env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        books = _first_answer(f"http://127.0.0.1:{port}/books/", within=240)

        # then: the demo shop, and the logins printed
        assert "The Great Gatsby" in books
    finally:
        os.killpg(served.pid, signal.SIGINT)
        output, _ = served.communicate(timeout=60)
    assert "ada" in output and "demo-password" in output, output
    assert f"http://127.0.0.1:{port}/" in output
    assert (tree / "db.sqlite3").exists()


def _first_answer(url: str, within: float) -> str:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
