"""Rebuilding the follow counts while the shop runs (PostgreSQL): readers
in threads never see a partial figure, follows made during the rebuild are
counted, and the rebuilt counts are the true ones."""

import io
import re
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from accounts import projections
from accounts.commands import FollowAccount
from accounts.models import Account, AccountStats
from messaging import bus
from tests.support.readers import Readers, figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_readers_never_see_a_partial_figure_while_the_counts_rebuild_beside_them():
    # given: a shop with follows, their counts drifted for one account
    call_command("seed_demo", "--bulk", "--accounts=300", "--follows=4000", "--books=0", "--orders=0", stdout=None)
    drifted = AccountStats.objects.order_by("account_id").first()
    AccountStats.objects.filter(pk=drifted.pk).update(following_count=999)
    people = list(Account.objects.order_by("?").values_list("pk", flat=True)[:40])
    err = io.StringIO()

    def follows_meanwhile():  # commands keep committing while the rebuild runs
        try:
            for follower, followee in zip(people[:20], people[20:], strict=True):
                bus.dispatch(FollowAccount(follower_id=follower, followee_id=followee))
        finally:
            connection.close()

    # when
    writer = threading.Thread(target=follows_meanwhile)
    with Readers(count=2) as readers:
        writer.start()
        call_command("rebuild_projections", "follow_counts", "--batch=200", stdout=io.StringIO(), stderr=err)
        writer.join()

    # then
    assert readers.reads > 20, "the readers read throughout the rebuild"
    assert readers.partial == []
    assert list(projections.drift()) == []
    counted, follows = figures()
    assert counted == follows >= 4000
    assert re.search(r"follow_counts: [\d,]+/[\d,]+ events \(\d+%\), [\d,]+/s, ETA", err.getvalue()), err.getvalue()
