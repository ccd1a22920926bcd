"""Every route into and out of the accounts context, in one place."""

from messaging.registry import Registry

from . import commands, events, handlers, invariants, mails, policies, projections, queries, refusals
from .models import AccountStats


def register(registry: Registry) -> None:
    registry.register_handler(commands.RegisterAccount, handlers.register_account)
    registry.register_handler(commands.RegisterSeededAccount, handlers.register_seeded_account)
    registry.register_handler(commands.VerifyEmail, handlers.verify_email)
    registry.register_handler(commands.ResendVerificationLink, handlers.resend_verification_link)
    registry.register_handler(commands.RequestPasswordReset, handlers.request_password_reset)
    registry.register_handler(commands.ResolvePasswordReset, handlers.resolve_password_reset)
    registry.register_handler(commands.TellOfSignUpAttempt, handlers.tell_of_sign_up_attempt)
    registry.register_handler(commands.ChangePassword, handlers.change_password)
    registry.register_handler(commands.GrantStaff, handlers.grant_staff)
    registry.register_handler(commands.FollowAccount, handlers.follow_account)
    registry.register_handler(commands.UnfollowAccount, handlers.unfollow_account)
    registry.register_handler(commands.RemoveFollower, handlers.remove_follower)
    registry.register_handler(commands.BlockAccount, handlers.block_account)
    registry.register_handler(commands.UnblockAccount, handlers.unblock_account)
    registry.register_handler(commands.DeactivateAccount, handlers.deactivate_account)
    registry.register_handler(commands.ForgetAccount, handlers.forget_account)
    registry.register_handler(commands.SeverFollows, handlers.sever_follows)
    registry.register_handler(commands.SeverAllFollows, handlers.sever_all_follows)
    registry.register_handler(commands.SeverFollowBatch, handlers.sever_follow_batch)

    registry.register_events_of(events)
    registry.register_upcaster(events.AccountRegistered, 1, events.registration_sealed_by_migration)
    registry.register_upcaster(events.FollowBatchScheduled, 1, events.follow_batch_with_no_starts)
    registry.register_refusals(refusals.AccountRefusal)

    # A policy's name is its identity (its delivery rows carry it): it stays when the
    # function is renamed or moved (docs/operations.md, "Renaming, retiring and upgrading").
    registry.subscribe(
        events.AccountBlocked, policies.remove_follows_on_block, name="accounts.policies.remove_follows_on_block"
    )
    registry.subscribe(
        events.AccountDeactivated,
        policies.remove_follows_on_deactivation,
        name="accounts.policies.remove_follows_on_deactivation",
    )
    registry.subscribe(
        events.FollowBatchScheduled, policies.sever_follow_batch, name="accounts.policies.sever_follow_batch"
    )
    registry.subscribe(
        events.PasswordResetAsked,
        policies.resolve_password_reset,
        name="accounts.policies.resolve_password_reset",
        relay_only=True,
    )
    registry.subscribe(
        events.PasswordResetRequested, policies.mail_password_reset, name="accounts.policies.mail_password_reset"
    )
    registry.register_mail_renderer(policies.PASSWORD_RESET_MAIL, mails.password_reset)
    registry.register_mail_renderer(mails.AS_WRITTEN_MAIL, mails.as_written)
    # A sign-up's consequences wait for the relay, whether its e-mail was new or
    # taken: the request does the same (no) work after its commit either way.
    registry.subscribe(
        events.VerificationLinkRequested,
        policies.mail_verification_link,
        name="accounts.policies.mail_verification_link",
        relay_only=True,
    )
    registry.register_mail_renderer(policies.VERIFICATION_MAIL, mails.verification_link)
    registry.subscribe(
        events.SignUpWithTakenEmail,
        policies.tell_of_sign_up_attempt,
        name="accounts.policies.tell_of_sign_up_attempt",
        relay_only=True,
    )
    registry.subscribe(
        events.SignUpAttemptMailed,
        policies.mail_sign_up_attempt,
        name="accounts.policies.mail_sign_up_attempt",
    )
    registry.register_mail_renderer(policies.SIGN_UP_ATTEMPTED_MAIL, mails.sign_up_attempted)
    registry.register_projection(
        "follow_counts",
        {
            events.AccountRegistered: projections.open_stats,
            events.AccountFollowed: projections.count_follow,
            events.FollowRemoved: projections.count_unfollow,
            events.FollowsSevered: projections.count_severed,
        },
        reset=projections.reset,
        snapshot=projections.snapshot,
        models=(AccountStats,),
        replay=projections.replay,
    )

    registry.register_reference("@", queries.account_id_for_username)
    registry.register_namer("account", queries.usernames)

    # The right of access: what this context keeps about a person (``messaging.access``).
    registry.register_personal_data("profile", queries.personal_profile)
    registry.register_personal_data("following", queries.personal_following)
    registry.register_personal_data("followers", queries.personal_followers)
    registry.register_personal_data("blocking", queries.personal_blocking)

    registry.register_invariant(invariants.no_follow_across_a_block)
    registry.register_invariant(invariants.no_follow_of_an_inactive_account)
    registry.register_invariant(invariants.follow_counts_match_the_follows)
    registry.register_invariant(invariants.no_clear_copy_of_a_person)
    registry.register_warning(invariants.accounts_over_the_follow_limit)
