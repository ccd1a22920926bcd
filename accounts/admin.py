"""Accounts and the social graph, for inspection; block and deactivate as actions."""

from django.contrib import admin

from messaging.admin import ReadOnlyAdmin, dispatch_each

from . import queries
from .commands import BlockAccount, DeactivateAccount
from .models import Account, AccountStats, Block, Follow


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "followers", "following", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["username", "email"]
    fields = [
        "id", "username", "email", "is_active", "is_staff", "is_superuser",
        "followers", "following", "date_joined", "last_login",
    ]
    readonly_fields = ["id", "followers", "following"]
    actions = ["block", "deactivate"]

    def get_queryset(self, request):
        return queries.with_counts(super().get_queryset(request))

    @admin.display(ordering="followers_count")
    def followers(self, account: Account) -> int:
        return account.followers_count

    @admin.display(ordering="following_count")
    def following(self, account: Account) -> int:
        return account.following_count

    @admin.action(description="Block the selected accounts (you block them)", permissions=["operate"])
    def block(self, request, queryset):
        me = request.user.pk
        commands = (
            (account.username, BlockAccount(blocker_id=me, blocked_id=account.pk, actor_id=me)) for account in queryset
        )
        dispatch_each(self, request, commands, "You block {count} account(s) now.")

    @admin.action(description="Deactivate the selected accounts", permissions=["operate"])
    def deactivate(self, request, queryset):
        commands = (
            (account.username, DeactivateAccount(account_id=account.pk, actor_id=request.user.pk))
            for account in queryset
        )
        dispatch_each(self, request, commands, "Deactivated {count} account(s).")


@admin.register(Follow)
class FollowAdmin(ReadOnlyAdmin):
    list_display = ["follower", "followee", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["follower__username", "followee__username"]
    list_select_related = ["follower", "followee"]


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ["blocker", "blocked", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]


@admin.register(AccountStats)
class AccountStatsAdmin(ReadOnlyAdmin):
    """The follower counts projection (``rebuild_projections`` rebuilds it)."""

    list_display = ["account", "followers_count", "following_count"]
    search_fields = ["account__username"]
    list_select_related = ["account"]
