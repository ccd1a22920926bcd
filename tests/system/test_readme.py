"""The README's commands, run as a newcomer runs them on the demo shop that
``scripts/run`` seeds: the shell's order example, and the API tour with
curl against a live server."""

import io
import json
import re
import shlex
import shutil
import subprocess

import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.models import Account
from catalog.models import Book
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, as in the product: policies run on commit

README = (settings.BASE_DIR / "README.md").read_text()


def section(title: str) -> str:
    """The README's section under ``## <title>``, up to the next one."""
    return re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S).group(1)


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


@pytest.fixture
def demo_shop(embedded_database):
    call_command("demo_shop", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_readme_order_from_the_shell_is_placed_on_the_demo_shop(demo_shop):
    # given
    (example,) = [
        line for block in shell_blocks(README) for line in block.splitlines() if "send_command PlaceOrder" in line
    ]
    out = io.StringIO()

    # when
    call_command(*shlex.split(example, comments=True)[1:], stdout=out, stderr=io.StringIO())

    # then
    placed = json.loads(out.getvalue().splitlines()[0])
    assert placed["type"] == "OrderPlaced"
    order = Order.objects.get(pk=placed["payload"]["order_id"])
    assert order.customer_id == Account.objects.get(username="ada").pk
    gatsby = Book.objects.get(isbn="9780743273565")
    assert [(item.book_id, item.quantity) for item in order.items.all()] == [(gatsby.pk, 2)]


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the API tour uses curl and jq")
def test_the_readme_api_tour_runs_with_curl_against_the_demo_shop(demo_shop, live_server):
    # given
    (tour,) = shell_blocks(section("API"))
    script = tour.replace("http://127.0.0.1:8000", live_server.url)

    # when
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)

    # then
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    placed = [answer for answer in answers if answer.get("status") == "PENDING"]
    assert len(placed) == 1, run.stdout
    assert Order.objects.get(pk=placed[0]["id"]).customer_id == Account.objects.get(username="ada").pk
    assert {"code": "order_too_large"}.items() <= answers[-1].items()
