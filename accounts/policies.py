"""Consequences of accounts events, run after the event's transaction commits."""

from messaging.features.outbox import QueueMail
from messaging.personal import FORGOTTEN

from .commands import ResolvePasswordReset, SeverAllFollows, SeverFollowBatch, SeverFollows, TellOfSignUpAttempt
from .events import (
    AccountBlocked,
    AccountDeactivated,
    FollowBatchScheduled,
    PasswordResetAsked,
    PasswordResetRequested,
    SignUpAttemptMailed,
    SignUpWithTakenEmail,
    VerificationLinkRequested,
)
from .values import Email

PASSWORD_RESET_MAIL = "accounts.password_reset"  # the renderer (accounts.mails) that writes it when it is sent
VERIFICATION_MAIL = "accounts.verification_link"
SIGN_UP_ATTEMPTED_MAIL = "accounts.sign_up_attempted"


def remove_follows_on_block(event: AccountBlocked):
    """A block ends the follows between the two accounts, both ways."""
    return [SeverFollows(account_id=event.blocker_id, other_id=event.blocked_id, reason="blocked")]


def remove_follows_on_deactivation(event: AccountDeactivated):
    """A deactivated account neither follows nor is followed."""
    return [SeverAllFollows(account_id=event.account_id, reason="account_deactivated")]


def sever_follow_batch(event: FollowBatchScheduled):
    """Each scheduled part of a large severance runs in a delivery of its own."""
    return [
        SeverFollowBatch(
            account_id=event.account_id,
            reason=event.reason,
            first_follow=event.first_follow,
            last_follow=event.last_follow,
            batch_starts=event.batch_starts,
        )
    ]


def resolve_password_reset(event: PasswordResetAsked):
    """Find whom a reset request was about, after its answer (subscribed
    ``relay_only``: never in the request). Once resolved, the address reads
    as forgotten: nothing is left to do."""
    if event.email == FORGOTTEN:
        return []
    return [ResolvePasswordReset(request_id=event.request_id, email=Email(event.email))]


def mail_password_reset(event: PasswordResetRequested):
    """The reset link goes out by mail, written when it is sent: its token is
    never stored."""
    return [QueueMail(recipient_id=event.account_id, renderer=PASSWORD_RESET_MAIL, about=event.account_id)]


def mail_verification_link(event: VerificationLinkRequested):
    """The link that verifies the address goes out by mail, its token written when it is sent."""
    return [QueueMail(recipient_id=event.account_id, renderer=VERIFICATION_MAIL, about=event.account_id)]


def tell_of_sign_up_attempt(event: SignUpWithTakenEmail):
    """The owner of an address someone signed up with is to be told (within the per-inbox cap)."""
    return [TellOfSignUpAttempt(account_id=event.account_id)]


def mail_sign_up_attempt(event: SignUpAttemptMailed):
    """The owner of an address someone signed up with is told, by mail."""
    return [QueueMail(recipient_id=event.account_id, renderer=SIGN_UP_ATTEMPTED_MAIL, about=event.account_id)]
