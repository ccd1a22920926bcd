"""Factories for the rows tests start from ("given some state")."""

from decimal import Decimal

import factory
from django.utils import timezone

from accounts import tokens
from accounts.models import Account, Block, Follow
from accounts.projections import recount
from catalog.models import Book, Inventory


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user_{n}")
    email = factory.LazyAttribute(lambda account: f"{account.username}@example.com")
    password = factory.django.Password("correct-horse-battery")
    email_verified_at = factory.LazyFunction(timezone.now)  # verified, unless a test says None


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow
        skip_postgeneration_save = True

    follower = factory.SubFactory(AccountFactory)
    followee = factory.SubFactory(AccountFactory)

    @factory.post_generation
    def counted(follow, create, extracted, **kwargs):
        """A follow made outside the pipeline is counted as the projector would."""
        if create:
            recount([follow.follower_id, follow.followee_id])


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    blocker = factory.SubFactory(AccountFactory)
    blocked = factory.SubFactory(AccountFactory)


# --- catalog -----------------------------------------------------------------


class BookFactory(factory.django.DjangoModelFactory):
    """A book already stocked: ``BookFactory(inventory__on_hand=3)``."""

    class Meta:
        model = Book
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Book {n}")
    author = "A. Writer"
    price_amount = Decimal("12.99")
    price_currency = "USD"
    inventory = factory.RelatedFactory("tests.support.factories.InventoryFactory", factory_related_name="book")


class InventoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inventory

    book = factory.SubFactory(BookFactory, inventory=None)
    on_hand = 10
    reserved = 0
    initial_stock_received = True


def api_token(account) -> str:
    """A new API token of ``account``, as signing in issues it."""
    return tokens.issue(account)[1]
