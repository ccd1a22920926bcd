"""The accounts admin: read-only rows, block and deactivate as commands."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts import tokens
from accounts.models import ApiToken, Block, Follow
from messaging.models import StoredEvent
from tests.support.factories import AccountFactory, BlockFactory, FollowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    account = AccountFactory(username="operator", is_staff=True, is_superuser=True)
    client.force_login(account)
    return account


def run_action(client, action: str, *accounts):
    return client.post(
        reverse("admin:accounts_account_changelist"),
        {"action": action, "_selected_action": [account.pk for account in accounts]},
        follow=True,
    )


@pytest.mark.parametrize("model", ["account", "follow", "block"])
def test_every_accounts_model_is_listed_searchable_and_read_only(client, operator, model):
    FollowFactory()
    BlockFactory()

    listing = client.get(reverse(f"admin:accounts_{model}_changelist"), {"q": "user"})
    adding = client.get(reverse(f"admin:accounts_{model}_add"))

    assert listing.status_code == 200
    assert adding.status_code == 403


def test_an_account_is_shown_with_its_counts_and_without_its_password(client, operator):
    account = AccountFactory()
    FollowFactory(followee=account)

    response = client.get(reverse("admin:accounts_account_change", args=[account.pk]))

    assert response.status_code == 200
    assert "pbkdf2" not in response.text and "md5$" not in response.text
    assert 'name="username"' not in response.text  # nothing to edit
    assert response.context["adminform"].form.instance.followers_count == 1


def test_the_deactivate_action_dispatches_deactivate_account(client, operator, django_capture_on_commit_callbacks):
    carol = AccountFactory(username="carol")
    FollowFactory(follower=carol)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "deactivate", carol)

    carol.refresh_from_db()
    assert not carol.is_active and not Follow.objects.exists()
    assert StoredEvent.objects.get(type="AccountDeactivated").command_type == "DeactivateAccount"
    assert "Deactivated 1 account(s)." in response.text


def test_the_block_action_blocks_from_the_operators_account_and_reports_refusals(client, operator):
    carol = AccountFactory(username="carol")

    response = run_action(client, "block", carol, operator)

    assert Block.objects.filter(blocker=operator, blocked=carol).count() == 1
    assert StoredEvent.objects.get(type="AccountBlocked").command_type == "BlockAccount"
    assert "You block 1 account(s) now." in response.text
    assert "Refused for operator: You cannot block yourself." in response.text


def test_staff_who_may_only_view_accounts_cannot_run_the_actions(client):
    viewer = AccountFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_account"))
    client.force_login(viewer)

    listing = client.get(reverse("admin:accounts_account_changelist"))
    response = run_action(client, "deactivate", AccountFactory())

    assert listing.status_code == 200 and listing.context["action_form"] is None  # no action offered
    assert response.status_code == 200
    assert not StoredEvent.objects.exists()


def test_api_tokens_are_read_only_and_show_no_token_nor_digest(client, operator):
    # given
    token, key = tokens.issue(AccountFactory(username="carol"))

    # when
    listing = client.get(reverse("admin:accounts_apitoken_changelist"))
    shown = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    adding = client.get(reverse("admin:accounts_apitoken_add"))
    deleting = client.post(reverse("admin:accounts_apitoken_delete", args=[token.pk]), {"post": "yes"})

    # then
    assert listing.status_code == 200 and "carol" in listing.text and str(token.id) in listing.text
    assert key[:8] not in listing.text and token.digest not in listing.text
    assert (shown.status_code, adding.status_code, deleting.status_code) == (403, 403, 403)
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_groups_are_read_only(client, operator):
    group = Group.objects.create(name="editors")

    adding = client.post(reverse("admin:auth_group_add"), {"name": "admins"})
    changing = client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "owners"})
    deleting = client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})

    assert client.get(reverse("admin:auth_group_changelist")).status_code == 200
    assert (adding.status_code, changing.status_code, deleting.status_code) == (403, 403, 403)
    assert list(Group.objects.values_list("name", flat=True)) == ["editors"]


def test_the_forget_action_dispatches_forget_account(client, operator, django_capture_on_commit_callbacks):
    carol = AccountFactory(username="carol", email="carol@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "forget", carol)

    carol.refresh_from_db()
    assert not carol.is_active and carol.email.endswith("@forgotten.invalid")
    assert StoredEvent.objects.get(type="AccountForgotten").command_type == "ForgetAccount"
    assert "Forgot 1 account(s)." in response.text
