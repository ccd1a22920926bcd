"""Accounts and the social graph, for inspection; block and deactivate as actions.
API tokens and groups, read-only like every other row."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.authtoken.models import TokenProxy

from interfaces.admin import ReadOnlyAdmin, dispatch_each

from . import queries
from .commands import BlockAccount, DeactivateAccount, ForgetAccount
from .models import Account, AccountStats, ApiToken, Block, Follow
from .views import PasswordChange


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["username", "email", "is_active", "is_staff", "followers", "following", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["username", "email"]
    fields = [
        "id",
        "username",
        "email",
        "is_active",
        "is_staff",
        "is_superuser",
        "followers",
        "following",
        "date_joined",
        "last_login",
    ]
    readonly_fields = ["id", "followers", "following"]
    actions = ["block", "deactivate", "forget"]

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

    @admin.action(
        description="Forget the selected accounts (deactivate, erase e-mail and username everywhere)",
        permissions=["operate"],
    )
    def forget(self, request, queryset):
        commands = (
            (account.username, ForgetAccount(account_id=account.pk, actor_id=request.user.pk)) for account in queryset
        )
        dispatch_each(self, request, commands, "Forgot {count} account(s).")


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


# Django registers groups as editable; here they are read-only like every
# other row. DRF's clear-text tokens are gone (accounts.ApiToken holds digests).
admin.site.unregister(Group)
admin.site.unregister(TokenProxy)


@admin.register(Group)
class GroupAdmin(ReadOnlyAdmin, DjangoGroupAdmin):
    pass


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Whose tokens exist, since when and until when. Only digests are
    stored; the list shows none of them, and is all there is (a token's own
    page would name it by its digest)."""

    list_display = ["id", "user", "created", "expiry"]
    list_display_links = None
    list_filter = ["created", "expiry"]
    search_fields = ["user__username"]
    list_select_related = ["user"]

    def has_view_permission(self, request, obj=None):
        return obj is None and super().has_view_permission(request)


def _password_change(request):
    """The admin's "Change password" page, through ``PasswordChange``: the old
    password under the sign-in limits, the new one by ``ChangePassword``.
    ``config.urls`` routes ``admin/password_change/`` here, ahead of the site."""
    request.current_app = admin.site.name
    view = PasswordChange.as_view(
        template_name="registration/password_change_form.html",
        success_url=reverse("admin:password_change_done"),
        extra_context=admin.site.each_context(request),
    )
    return view(request)


password_change = admin.site.admin_view(_password_change, cacheable=True)
