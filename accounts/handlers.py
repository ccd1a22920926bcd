"""Command handlers of the accounts context.

Each reads as: fetch state through the repositories (taking the locks),
let the rules decide (``rules``, or the ``Account`` itself), save what they
decided. A refusal is raised as ``Refused``; the bus rolls back and
records it.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from messaging import personal
from messaging.messages import Event, Rejection

from . import repositories as accounts
from . import rules, tokens
from .commands import (
    BlockAccount,
    ChangePassword,
    DeactivateAccount,
    FollowAccount,
    ForgetAccount,
    GrantStaff,
    RegisterAccount,
    RegisterSeededAccount,
    RemoveFollower,
    RequestPasswordReset,
    ResendVerificationLink,
    ResolvePasswordReset,
    SeverAllFollows,
    SeverFollowBatch,
    SeverFollows,
    TellOfSignUpAttempt,
    UnblockAccount,
    UnfollowAccount,
    VerifyEmail,
)
from .events import (
    AccountCommandRejected,
    AccountRegistered,
    AccountUnblocked,
    FollowRemoved,
    PasswordResetAsked,
)
from .models import Account
from .refusals import AccountRefusal


def _require_exists(account_id: uuid.UUID, rejection: type[Rejection] = AccountCommandRejected) -> Account:
    account = accounts.get(account_id)
    if account is None:
        raise rejection.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    return account


def register_account(command: RegisterAccount) -> list[Event]:
    """A new account, unverified; or, for an e-mail in use, only a mail to
    its owner. The password is hashed either way: a taken e-mail costs the
    same slow hash as a new account, so neither answer comes sooner."""
    password_hash = make_password(command.password.value)
    for _ in range(2):  # once more after losing a race, to decide on what won it
        decided = rules.register(
            account_id=uuid.uuid4(),
            email=command.email,
            username=command.username,
            password=command.password,
            taken=accounts.taken_by(str(command.email), str(command.username)),
        )
        registered = decided[0]
        if not isinstance(registered, AccountRegistered):
            return decided
        try:
            _add_account(registered, password_hash)
        except accounts.DuplicateAccount:  # a concurrent registration won the race
            continue
        return decided
    raise rules.already_taken()


def register_seeded_account(command: RegisterSeededAccount) -> list[Event]:
    """A demo account, its address taken as verified (nobody reads its mail)."""
    taken = accounts.taken_by(str(command.email), str(command.username))
    registered = rules.open_account(
        account_id=uuid.uuid4(),
        email=command.email,
        username=command.username,
        taken=taken.username or taken.email_owner is not None,
    )
    try:
        _add_account(registered, command.password_hash.value, verified=True)
    except accounts.DuplicateAccount:
        raise rules.already_taken() from None
    return [registered]


def _add_account(registered: AccountRegistered, password_hash: str, *, verified: bool = False) -> None:
    accounts.add(
        account_id=registered.account_id,
        email=registered.email,
        username=registered.username,
        password_hash=password_hash,
        verified=verified,
    )


def verify_email(command: VerifyEmail) -> list[Event]:
    """The address is its owner's (the interface checked the link's token)."""
    account = accounts.lock(command.account_id)
    if account is None:
        raise AccountCommandRejected.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    verified = account.verify_email()
    if verified is None:
        return []
    accounts.save(account, "email_verified_at")
    return [verified]


def resend_verification_link(command: ResendVerificationLink) -> list[Event]:
    """Another link, for an active account still unverified; nothing otherwise."""
    account = _require_exists(command.account_id)
    requested = account.request_verification_link()
    return [requested] if requested else []


def request_password_reset(command: RequestPasswordReset) -> list[Event]:
    """Record the request, the same way whatever the address: no account is
    looked up here, so the answer takes as long for an address nobody uses
    as for a registered one (``resolve_password_reset`` looks, after it)."""
    return [PasswordResetAsked(request_id=uuid.uuid4(), email=str(command.email))]


def resolve_password_reset(command: ResolvePasswordReset) -> list[Event]:
    """A reset link is owed when an active account uses the address, unless
    its inbox had ``PASSWORD_RESET_MAILS_PER_RECIPIENT`` of them within the
    window already (then it is withheld, and recorded); otherwise nothing
    happens. The address asked about is forgotten either way."""
    personal.forget(command.request_id)
    found = accounts.by_email(str(command.email))
    account = accounts.lock(found.pk) if found else None  # one count at a time per recipient
    if account is None:
        return []
    since = timezone.now() - timedelta(seconds=settings.MAIL_CAP_WINDOW_SECONDS)
    return rules.reset_link(
        account,
        mails_in_window=accounts.reset_links_since(account.pk, since),
        cap=settings.PASSWORD_RESET_MAILS_PER_RECIPIENT,
    )


def tell_of_sign_up_attempt(command: TellOfSignUpAttempt) -> list[Event]:
    """Mail the address's owner of a sign-up with it, within the per-inbox cap."""
    account = accounts.lock(command.account_id)  # one count at a time per recipient
    if account is None:
        return []
    since = timezone.now() - timedelta(seconds=settings.MAIL_CAP_WINDOW_SECONDS)
    return rules.sign_up_attempt_mail(
        account,
        mails_in_window=accounts.sign_up_attempt_mails_since(account.pk, since),
        cap=settings.SIGN_UP_ATTEMPT_MAILS_PER_RECIPIENT,
    )


def change_password(command: ChangePassword) -> list[Event]:
    """Set the password; every API token of the account ends with the old
    one (its sessions too: each is bound to the password's hash)."""
    account = accounts.lock(command.account_id)
    changed = rules.change_password(account, command.password)
    accounts.save(account, "password")
    tokens.revoke_all(account.pk)
    return [changed]


def grant_staff(command: GrantStaff) -> list[Event]:
    account = _require_exists(command.account_id)
    granted = account.grant_staff()
    if granted is None:
        return []
    accounts.save(account, "is_staff", "is_superuser")
    return [granted]


def follow_account(command: FollowAccount) -> list[Event]:
    follower, followee = accounts.lock_pair(command.follower_id, command.followee_id)
    facts = accounts.follow_facts(command.follower_id, command.followee_id)
    followed = rules.follow(command, follower, followee, facts, limit=settings.FOLLOW_LIMIT)
    if followed is None:
        return []
    accounts.add_follow(followed.follower_id, followed.followee_id)
    return [followed]


def unfollow_account(command: UnfollowAccount) -> list[Event]:
    _require_exists(command.followee_id)
    if not accounts.remove_follow(command.follower_id, command.followee_id):
        return []
    return [FollowRemoved(follower_id=command.follower_id, followee_id=command.followee_id, reason="unfollowed")]


def remove_follower(command: RemoveFollower) -> list[Event]:
    _require_exists(command.follower_id)
    if not accounts.remove_follow(command.follower_id, command.account_id):
        return []
    return [FollowRemoved(follower_id=command.follower_id, followee_id=command.account_id, reason="follower_removed")]


def block_account(command: BlockAccount) -> list[Event]:
    blocker, blocked = accounts.lock_pair(command.blocker_id, command.blocked_id)
    already = accounts.is_blocking(command.blocker_id, command.blocked_id)
    blocked_event = rules.block(command, blocker, blocked, already_blocking=already)
    if blocked_event is None:
        return []
    accounts.add_block(blocked_event.blocker_id, blocked_event.blocked_id)
    return [blocked_event]


def unblock_account(command: UnblockAccount) -> list[Event]:
    _require_exists(command.blocked_id)
    if not accounts.remove_block(command.blocker_id, command.blocked_id):
        return []
    return [AccountUnblocked(blocker_id=command.blocker_id, blocked_id=command.blocked_id)]


def deactivate_account(command: DeactivateAccount) -> list[Event]:
    account = accounts.lock(command.account_id)
    if account is None:
        raise AccountCommandRejected.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    deactivated = account.deactivate()
    if deactivated is None:
        return []
    accounts.save(account, "is_active")
    tokens.revoke_all(account.pk)
    return [deactivated]


def forget_account(command: ForgetAccount) -> list[Event]:
    """Deactivate the account as ``DeactivateAccount`` does (its follows go
    by the same policy), put placeholders for its person's e-mail and
    username in the row, end its token, drop the admin's log entries about
    it, and throw away its data key: every copy of its data in the history
    (sealed under that key) is unreadable from this commit on, however long
    the history. No search, and no other person's row is touched."""
    account = accounts.lock(command.account_id)
    if account is None:
        raise AccountCommandRejected.refuse(AccountRefusal.ACCOUNT_NOT_FOUND)
    deactivated = account.deactivate()
    forgotten = account.forget()
    if forgotten is None:
        return [deactivated] if deactivated else []
    accounts.save(account, "is_active", "email", "username", "password")
    accounts.remove_credentials_and_admin_log(account.pk)
    personal.forget(account.pk)
    return [event for event in (deactivated, forgotten) if event]


def sever_follows(command: SeverFollows) -> list[Event]:
    accounts.lock_pair(command.account_id, command.other_id)
    return [
        FollowRemoved(follower_id=follower_id, followee_id=followee_id, reason=command.reason)
        for follower_id, followee_id in (
            (command.account_id, command.other_id),
            (command.other_id, command.account_id),
        )
        if accounts.remove_follow(follower_id, followee_id)
    ]


def sever_all_follows(command: SeverAllFollows) -> list[Event]:
    return _sever_batch(command.account_id, command.reason)


def sever_follow_batch(command: SeverFollowBatch) -> list[Event]:
    if command.batch_starts:  # batches an earlier read counted: schedule them, read nothing
        return rules.schedule_batches(
            command.account_id,
            command.reason,
            command.batch_starts,
            command.last_follow,
            batch_size=_batch_size(),
        )
    return _sever_batch(command.account_id, command.reason, command.first_follow, command.last_follow)


def _batch_size() -> int:
    """Follows per batch: half of ``FANOUT_BATCH_SIZE``, since each severed
    follow writes two rows in its transaction, its own and the other
    account's counts (projected inline)."""
    return max(1, settings.MESSAGING_FANOUT_BATCH_SIZE // 2)


def _sever_batch(account_id: uuid.UUID, reason: str, first: int | None = None, last: int | None = None) -> list[Event]:
    """Remove the account's follows from ``first`` to ``last`` if they fit in
    one batch, as one ``FollowsSevered``; otherwise schedule their batches
    (``rules.schedule_batches``), each delivered, exactly once, in a
    transaction of its own."""
    accounts.lock(account_id)
    batch_size = _batch_size()
    follow_ids = accounts.follow_ids_of(account_id, first, last)
    if len(follow_ids) > batch_size:
        starts = rules.batch_starts(follow_ids, batch_size=batch_size)
        return rules.schedule_batches(account_id, reason, starts, follow_ids[-1], batch_size=batch_size)
    severed = rules.severed(account_id, reason, accounts.remove_follows(follow_ids))
    return [severed] if severed else []
