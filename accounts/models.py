"""Rows of the accounts context: accounts and the social graph between them."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from knox.models import AbstractAuthToken

from .events import (
    AccountDeactivated,
    AccountForgotten,
    EmailVerified,
    PasswordChanged,
    PasswordResetRequested,
    StaffGranted,
    VerificationLinkRequested,
)
from .values import MAX_USERNAME, Password


class AccountManager(BaseUserManager):
    """Lets Django's own tools (``createsuperuser``, the admin login) work.

    The product registers accounts through the ``RegisterAccount`` command;
    these methods exist for Django's management commands.
    """

    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username__lower=username.lower())

    def create_user(self, username, email, password=None, **extra):
        extra.setdefault("email_verified_at", timezone.now())  # made by an operator: vouched for
        account = self.model(username=username, email=self.normalize_email(email).lower(), **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_superuser(self, username, email, password=None, **extra):
        return self.create_user(username, email, password, is_staff=True, is_superuser=True, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)
    username = models.CharField(max_length=MAX_USERNAME, unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # When its owner followed the link mailed to the address; None until then
    # (such an account signs in and browses, but orders nothing).
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = AccountManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="account_email_unique_ci"),
            models.UniqueConstraint(Lower("username"), name="account_username_unique_ci"),
        ]

    def __str__(self):
        return self.username

    def grant_staff(self) -> StaffGranted | None:
        """Make the account staff with every permission; ``None`` if it was already."""
        if self.is_staff and self.is_superuser:
            return None
        self.is_staff = self.is_superuser = True
        return StaffGranted(account_id=self.pk)

    def request_password_reset(self) -> PasswordResetRequested | None:
        """A reset link for an active account with a password (as Django's
        reset form decides); ``None`` otherwise, and nothing is mailed."""
        if not self.is_active or not self.has_usable_password():
            return None
        return PasswordResetRequested(account_id=self.pk)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def verify_email(self) -> EmailVerified | None:
        """Take the address as its owner's (they followed the link mailed to
        it); ``None`` if it was already, or the account is closed."""
        if self.email_verified or not self.is_active:
            return None
        self.email_verified_at = timezone.now()
        return EmailVerified(account_id=self.pk)

    def request_verification_link(self) -> VerificationLinkRequested | None:
        """Another verification link by mail; ``None`` when none is needed."""
        if self.email_verified or not self.is_active:
            return None
        return VerificationLinkRequested(account_id=self.pk)

    def change_password(self, password: Password) -> PasswordChanged:
        """Take the new password, hashed by Django's hashers (whether it is
        strong enough is ``rules.change_password``'s to decide, first)."""
        self.set_password(password.value)
        return PasswordChanged(account_id=self.pk)

    def deactivate(self) -> AccountDeactivated | None:
        """Close the account (it no longer signs in); ``None`` if it was closed already."""
        if not self.is_active:
            return None
        self.is_active = False
        return AccountDeactivated(account_id=self.pk)

    @property
    def placeholder_email(self) -> str:
        # .invalid is reserved (RFC 2606): nothing can ever be mailed there.
        return f"forgotten-{self.pk.hex}@forgotten.invalid"

    @property
    def placeholder_username(self) -> str:
        return f"forgotten-{self.pk.hex[:20]}"  # unique, and within MAX_USERNAME

    def forget(self) -> AccountForgotten | None:
        """Replace the person's e-mail and username with placeholders and
        make the password unusable; ``None`` if they were forgotten already.
        Deactivate first: a forgotten account never signs in again."""
        if self.email == self.placeholder_email:
            return None
        self.email, self.username = self.placeholder_email, self.placeholder_username
        self.set_unusable_password()
        return AccountForgotten(account_id=self.pk)


class Follow(models.Model):
    """``follower`` follows ``followee``."""

    # Each side is the first column of an index below, which serves it alone too.
    follower = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="following_set", db_index=False)
    followee = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="follower_set", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["follower", "followee"], name="follow_once")]
        indexes = [models.Index(fields=["followee", "follower"], name="follow_by_followee")]

    def __str__(self):
        return f"{self.follower_id} follows {self.followee_id}"


class Block(models.Model):
    """``blocker`` blocks ``blocked``."""

    # Each side is the first column of an index below, which serves it alone too.
    blocker = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="blocking_set", db_index=False)
    blocked = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="blocked_by_set", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once")]
        indexes = [models.Index(fields=["blocked", "blocker"], name="block_by_blocked")]

    def __str__(self):
        return f"{self.blocker_id} blocks {self.blocked_id}"


class AccountStats(models.Model):
    """Follower and following counts of one account: a read model, kept by
    the projectors in ``projections.py`` in the transaction of each follow
    event, and rebuilt from the events by ``manage.py rebuild_projections``.
    An account without a row has none."""

    account = models.OneToOneField(Account, primary_key=True, on_delete=models.CASCADE, related_name="stats")
    followers_count = models.IntegerField(default=0)
    following_count = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "account stats"

    def __str__(self):
        return f"{self.account_id}: {self.followers_count} followers, {self.following_count} following"


class ApiToken(AbstractAuthToken):
    """One API token of a person, one per device or script that signed in
    (django-rest-knox's row): only its SHA-512 ``digest`` (the primary key)
    and its first 15 characters (``token_key``, to tell tokens apart) are
    stored, never the token. It stops authenticating at ``expiry``, or when
    revoked (the row deleted). ``id`` names it to its owner, who lists and
    revokes tokens by it."""

    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        verbose_name = "API token"
