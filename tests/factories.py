"""Factories for the rows tests start from ("given some state")."""

import factory

from accounts.models import Account, Block, Follow


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user_{n}")
    email = factory.LazyAttribute(lambda account: f"{account.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    follower = factory.SubFactory(AccountFactory)
    followee = factory.SubFactory(AccountFactory)


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    blocker = factory.SubFactory(AccountFactory)
    blocked = factory.SubFactory(AccountFactory)
