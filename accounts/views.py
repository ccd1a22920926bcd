"""Pages of the accounts context: sign-up, the people directory, profiles,
and one's own account (password, API tokens, one's data, forget me).

Each write parses its form, builds one command with the signed-in account
as actor and the form's idempotency key, dispatches it and reports the
result as a message on the next page.
"""

from typing import NamedTuple

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from interfaces.forms import IdempotentForm
from interfaces.pages import dispatch_for, refusal_message, report, report_invalid, throttled
from interfaces.throttles import PasswordResetThrottle, RegistrationThrottle, VerificationMailThrottle
from messaging.features import access
from messaging.messages import Command

from . import queries, tokens, verification
from .commands import (
    BlockAccount,
    ChangePassword,
    FollowAccount,
    ForgetAccount,
    RegisterAccount,
    RemoveFollower,
    RequestPasswordReset,
    ResendVerificationLink,
    UnblockAccount,
    UnfollowAccount,
    VerifyEmail,
)
from .forms import ForgetForm, PasswordChangeForm, PasswordResetRequestForm, PeopleSearchForm, SignUpForm
from .models import Account
from .values import Password

PAGE_SIZE = 20
VERIFICATION_SESSION_TOKEN = "_email_verification_token"


class RelationshipAction(NamedTuple):
    """A button on a profile: the command it sends, which of its fields
    name the signed-in account and the profile's, and what to say when done."""

    command: type[Command]
    mine: str
    theirs: str
    done: str
    consequence: str = ""  # when set, the button first asks (a GET of its address) and says this


RELATIONSHIP_ACTIONS = {
    "follow": RelationshipAction(FollowAccount, "follower_id", "followee_id", "You follow {name} now."),
    "unfollow": RelationshipAction(UnfollowAccount, "follower_id", "followee_id", "You no longer follow {name}."),
    "block": RelationshipAction(
        BlockAccount,
        "blocker_id",
        "blocked_id",
        "You block {name}; follows between you are gone.",
        consequence="You stop following each other, and neither of you can follow the other until you unblock {name}.",
    ),
    "unblock": RelationshipAction(UnblockAccount, "blocker_id", "blocked_id", "You no longer block {name}."),
    "remove_follower": RelationshipAction(RemoveFollower, "account_id", "follower_id", "{name} no longer follows you."),
}


def sign_up(request):
    """Register through ``RegisterAccount``; the answer is the same "check
    your mail" page whether the e-mail was new (a verification link goes
    to it) or in use (its owner is told by mail instead), so it says
    nothing of who has an account. A taken username is said (usernames are
    public). Nobody is signed in here: the verification link does that.
    Throttled per client address by the API's registration throttle, one
    count for both (``THROTTLE_RATE_REGISTRATION``): each costs a password hash."""
    if request.user.is_authenticated:  # signed up already (a form sent twice lands here too)
        return redirect("home")
    if request.method == "POST" and (limited := _throttled(request, RegistrationThrottle(), "sign-ups")):
        return limited
    form = SignUpForm(request.POST or None)
    if form.is_valid():
        data = form.cleaned_data
        command = RegisterAccount(
            email=data["email"],
            username=data["username"],
            password=data["password"],
            actor_id=request.user.pk,
            idempotency_key=form.key,
        )
        result = dispatch_for(request, command)
        if not result.rejection:
            return redirect("accounts:sign_up_done")
        form.add_error(
            "username" if result.rejection.code == "username_taken" else None, refusal_message(result.rejection)
        )
        form.renew_key()
    return render(request, "accounts/sign_up.html", {"form": form})


def sign_up_done(request):
    """What every sign-up is told, whoever has the address."""
    return render(request, "accounts/sign_up_done.html")


def verify_email(request, token):
    """The link from the verification mail. As Django's reset view does,
    the token moves into the session and the browser is sent on to an
    address without it (so neither the next page's address nor a referrer
    carries it), where a button confirms: a mail scanner that follows the
    link verifies nothing."""
    request.session[VERIFICATION_SESSION_TOKEN] = token
    return redirect("accounts:verify_email_confirm")


@require_http_methods(["GET", "POST"])
def verify_email_confirm(request):
    """Confirm the address (a POST): ``VerifyEmail``, then the person is
    signed in. A forged, expired or outdated link says so."""
    account = verification.account_for(request.session.get(VERIFICATION_SESSION_TOKEN, ""))
    if account is None:
        return render(request, "accounts/verify_email.html", {"invalid": True}, status=400)
    if request.method == "GET":
        return render(request, "accounts/verify_email.html", {"account": account, "form": IdempotentForm()})
    form = IdempotentForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/verify_email.html", {"account": account, "form": form}, status=400)
    command = VerifyEmail(account_id=account.pk, actor_id=account.pk, idempotency_key=form.key)
    if report(request, dispatch_for(request, command), "Your e-mail address is verified. Welcome!"):
        del request.session[VERIFICATION_SESSION_TOKEN]
        if request.user.pk != account.pk:
            login(request, account, backend="interfaces.sign_in.SignInLimitBackend")
    return redirect("home")


@require_POST
@login_required
def resend_verification(request):
    """Mail the signed-in person another verification link; throttled per
    person (``THROTTLE_RATE_VERIFICATION``), as on the API."""
    limited = throttled(
        request,
        VerificationMailThrottle(),
        "verification mails",
        back_url=reverse("home"),
        back_text="Back to the shop",
    )
    if limited:
        return limited
    command = ResendVerificationLink(account_id=request.user.pk, actor_id=request.user.pk)
    report(request, dispatch_for(request, command), f"A new link is on its way to {request.user.email}.")
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(back if back and safe else "home")


@login_required
def people(request):
    """Active accounts, searchable by username, a page at a time."""
    form = PeopleSearchForm(request.GET)
    search = form.cleaned_data["q"] if form.is_valid() else ""
    page = Paginator(queries.directory(search), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/people.html", {"form": form, "page": page, "search": search})


@login_required
def profile(request, username):
    """An account with its counts, how it relates to the viewer, and the buttons that fit."""
    account = _account_or_404(username)
    return render(
        request,
        "accounts/profile.html",
        {
            "account": account,
            "relationship": queries.relationship(request.user.pk, account.pk),
            "forms": {action: IdempotentForm() for action in RELATIONSHIP_ACTIONS},
        },
    )


@login_required
def account(request):
    """The signed-in person's own page: their password, their API tokens
    (revoke one, or all: "sign out everywhere"), their data to download,
    and forgetting them."""
    return render(request, "accounts/account.html", {"tokens": tokens.live(request.user.pk)})


@require_POST
@login_required
def revoke_token(request, token_id):
    """End one of the person's API tokens (as ``DELETE /api/v1/auth/tokens/<id>/``)."""
    if tokens.revoke(request.user.pk, token_id):
        messages.success(request, "That token is revoked: it signs nobody in any more.")
    else:
        messages.error(request, "No such token: it was revoked or had expired already.")
    return redirect("accounts:account")


@require_POST
@login_required
def revoke_tokens(request):
    """End every API token of the person (as ``DELETE /api/v1/auth/tokens/``)."""
    revoked = tokens.revoke_all(request.user.pk)
    messages.success(request, f"Signed out everywhere: {revoked} API token{'' if revoked == 1 else 's'} revoked.")
    return redirect("accounts:account")


@login_required
def export_data(request):
    """Everything the product holds about the person, as the JSON document
    ``GET /api/v1/accounts/me/export/`` answers, to download."""
    return JsonResponse(
        access.export(request.user.pk),
        encoder=DjangoJSONEncoder,
        json_dumps_params={"indent": 2, "ensure_ascii": False},
        headers={
            "Content-Disposition": f'attachment; filename="personal-data-{request.user.pk}.json"',
            "Cache-Control": "no-store",
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def forget_me(request):
    """Ask first (a GET), then forget the signed-in person once they gave
    their password again, and sign them out: the account is deactivated and
    its data erased. A wrong password shows the question again, with why."""
    form = ForgetForm(request.POST if request.method == "POST" else None, request=request)
    if form.is_valid():
        command = ForgetAccount(account_id=request.user.pk, actor_id=request.user.pk, idempotency_key=form.key)
        if not report(request, dispatch_for(request, command), "Your account is closed and your data erased."):
            return redirect("accounts:account")
        logout(request)
        return redirect("/")
    return render(
        request,
        "confirm.html",
        {
            "question": "Forget your account?",
            "consequence": (
                "Your account closes, and your e-mail and username are erased everywhere they were kept: "
                "this cannot be undone. Give your password to confirm."
            ),
            "action": request.path,
            "form": form,
            "confirm": "Yes, forget me",
            "back": reverse("accounts:account"),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def change_relationship(request, username, action):
    """Follow, unfollow, block, unblock or remove a follower, from a profile's
    button; a GET of an action that asks first (block) answers its question."""
    if action not in RELATIONSHIP_ACTIONS:
        raise Http404(f"No action {action!r}.")
    account = _account_or_404(username)
    chosen = RELATIONSHIP_ACTIONS[action]
    if request.method == "GET":
        if not chosen.consequence:
            return HttpResponseNotAllowed(["POST"])
        return render(
            request,
            "confirm.html",
            {
                "question": f"{action.capitalize()} {account.username}?",
                "consequence": chosen.consequence.format(name=account.username),
                "action": request.path,
                "form": IdempotentForm(),
                "confirm": f"Yes, {action} {account.username}",
                "back": reverse("accounts:profile", args=[account.username]),
            },
        )
    form = IdempotentForm(request.POST)
    if not form.is_valid():
        report_invalid(request, form)
        return redirect("accounts:profile", account.username)
    command = chosen.command(
        **{chosen.mine: request.user.pk, chosen.theirs: account.pk}, actor_id=request.user.pk, idempotency_key=form.key
    )
    report(request, dispatch_for(request, command), chosen.done.format(name=account.username))
    return redirect("accounts:profile", account.username)


@login_required
def followers(request, username):
    """Who follows the account, a page at a time."""
    account = _account_or_404(username)
    return _people_of(request, account, queries.followers_of(account.pk), f"People who follow {account.username}")


@login_required
def following(request, username):
    """Whom the account follows, a page at a time."""
    account = _account_or_404(username)
    return _people_of(request, account, queries.followed_by(account.pk), f"People {account.username} follows")


def _people_of(request, account: Account, accounts, title: str):
    page = Paginator(accounts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/people_of.html", {"account": account, "page": page, "title": title})


def _throttled(request, throttle, what: str):
    """The 429 page of a throttle counting per client address, or ``None``."""
    return throttled(
        request,
        throttle,
        f"{what} from your address",
        back_url=reverse("accounts:log_in"),
        back_text="Back to the login page",
    )


def _account_or_404(username: str) -> Account:
    account = queries.profile(username)
    if account is None:
        raise Http404(f"No account is named {username!r}.")
    return account


class PasswordReset(auth_views.PasswordResetView):
    """ "Forgot your password?": sends ``RequestPasswordReset`` and answers
    the same page whether an account uses the address or not. Throttled per
    client address (``THROTTLE_RATE_PASSWORD_RESET``), since each request
    may mail someone."""

    template_name = "registration/password_reset_form.html"
    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("accounts:password_reset_done")

    def post(self, request, *args, **kwargs):
        return _throttled(request, PasswordResetThrottle(), "requests for a reset link") or super().post(
            request, *args, **kwargs
        )

    def form_valid(self, form):
        """Through the bus instead of Django's ``form.save()``, which would
        write and send the mail here, its token in hand."""
        command = RequestPasswordReset(email=form.cleaned_data["email"], actor_id=self.request.user.pk)
        dispatch_for(self.request, command)
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    """The link from the mail: Django's view checks its token, then the new
    password is set by ``ChangePassword``, under the password policy. The
    token stops working once the password has changed."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        """Through the bus instead of Django's ``form.save()``."""
        password = Password(form.cleaned_data["new_password1"])
        result = dispatch_for(
            self.request, ChangePassword(account_id=self.user.pk, password=password, actor_id=self.user.pk)
        )
        if result.rejection:
            form.add_error("new_password1", refusal_message(result.rejection))
            return self.form_invalid(form)
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


class PasswordChange(auth_views.PasswordChangeView):
    """Change one's own password (the admin's "Change password"): the old
    password is checked under the sign-in limits, the new one set by
    ``ChangePassword`` (which ends every API token); this session stays
    signed in, every other one ends."""

    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        """Through the bus instead of Django's ``form.save()``."""
        password = Password(form.cleaned_data["new_password1"])
        account = self.request.user
        result = dispatch_for(
            self.request, ChangePassword(account_id=account.pk, password=password, actor_id=account.pk)
        )
        if result.rejection:
            form.add_error("new_password1", refusal_message(result.rejection))
            return self.form_invalid(form)
        account.refresh_from_db(fields=["password"])
        update_session_auth_hash(self.request, account)
        return HttpResponseRedirect(self.get_success_url())


class SitePasswordChange(PasswordChange):
    """The site's settings page for one's password (linked from one's
    account page): ``PasswordChange`` in the site's look, back to it."""

    template_name = "accounts/password_change.html"

    def get_success_url(self):
        return reverse("accounts:account")

    def form_valid(self, form):
        response = super().form_valid(form)
        if not form.errors:
            messages.success(self.request, "Your password is changed.")
        return response
