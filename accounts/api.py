"""REST endpoints of the accounts context: registration, sign-in tokens,
the directory and the social graph.

Writes build a command with the actor from authentication and go through
``interfaces.api_commands.execute``; reads go through ``accounts.queries``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, permissions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from interfaces import sign_in
from interfaces.api_commands import execute, validated
from interfaces.rest import JSONParser
from interfaces.schema import errors
from interfaces.throttles import RegistrationThrottle, SignInThrottle, VerificationMailThrottle
from interfaces.viewsets import ApiViewSet
from messaging.features import access
from messaging.personal import PersonalText

from . import queries, tokens, verification
from .commands import (
    BlockAccount,
    DeactivateAccount,
    FollowAccount,
    ForgetAccount,
    RegisterAccount,
    RemoveFollower,
    ResendVerificationLink,
    UnblockAccount,
    UnfollowAccount,
    VerifyEmail,
)
from .refusals import AccountRefusal
from .values import MAX_USERNAME, USERNAME_PATTERN, Email, Password, Username

# --- Input --------------------------------------------------------------------


class RegistrationInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    username = serializers.RegexField(rf"^{USERNAME_PATTERN}$", max_length=MAX_USERNAME)  # for the schema
    password = serializers.CharField(
        min_length=8, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )

    def validate_email(self, value) -> Email:
        return Email(value)

    def validate_username(self, value) -> Username:
        return Username(value)

    def validate(self, attrs):
        # The domain's policy (RegisterAccount enforces it), checked here too
        # so that its messages answer as the password field's errors.
        password = Password(attrs["password"])
        try:
            password.check_strength(username=str(attrs["username"]), email=str(attrs["email"]))
        except DjangoValidationError as invalid:
            raise serializers.ValidationError({"password": invalid.messages}) from None
        return {**attrs, "password": password}


class VerificationInput(serializers.Serializer):
    """The token of a verification link (the last part of its address)."""

    token = serializers.CharField(max_length=500)

    def validate_token(self, value):
        account = verification.account_for(value)
        if account is None:
            raise serializers.ValidationError("This link is invalid or has expired.")
        return account


class ForgetInput(serializers.Serializer):
    """The person's password, given again: forgetting cannot be undone.
    Checked under the sign-in limits (``interfaces.sign_in``)."""

    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    def validate_password(self, value):
        request = self.context["request"]
        if not sign_in.check_password(request, request.user, value):
            raise serializers.ValidationError("This is not your password.")
        return value


class SearchInput(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=MAX_USERNAME)


class SignInInput(AuthTokenSerializer):
    """DRF's username + password check, refusing a deactivated account
    whatever authentication backend is configured."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs["user"].is_active:
            raise serializers.ValidationError("Unable to log in with provided credentials.", code="authorization")
        return attrs


# --- Output -------------------------------------------------------------------


class AccountOutput(serializers.Serializer):
    """An account as others see it; ``email`` only for the account itself and staff."""

    id = serializers.UUIDField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    followers_count = serializers.IntegerField()
    following_count = serializers.IntegerField()
    date_joined = serializers.DateTimeField()
    email = serializers.EmailField(required=False)
    email_verified = serializers.BooleanField(
        required=False, help_text="Whether its owner followed the link mailed to the address; orders need it."
    )

    def to_representation(self, account):
        data = super().to_representation(account)
        viewer = self.context.get("viewer")
        if not (self.context.get("own") or viewer.is_staff or viewer.pk == account.pk):
            del data["email"], data["email_verified"]
        # The person's data: an answer kept for an Idempotency-Key stores it sealed for them.
        for name in ("username", "email"):
            if name in data:
                data[name] = PersonalText(data[name], account.pk)
        return data


class RelationshipOutput(serializers.Serializer):
    """How the caller stands towards an account."""

    following = serializers.BooleanField()
    followed_by = serializers.BooleanField()
    blocking = serializers.BooleanField()
    blocked_by = serializers.BooleanField()


class AcceptedOutput(serializers.Serializer):
    """An answer that says what happens next, and nothing more."""

    detail = serializers.CharField()


SIGN_UP_ACCEPTED = (
    "Check your mail: follow the link we sent to the address to confirm it. "
    "Until then the account can get a token and read, but not place orders."
)


class TokenOutput(serializers.Serializer):
    """A newly issued token: shown this once, stored only as its digest."""

    token = serializers.CharField()
    id = serializers.UUIDField(help_text="Names the token to list or revoke it.")
    expiry = serializers.DateTimeField(help_text="When it stops authenticating.")


class TokenListOutput(serializers.Serializer):
    """One of the person's tokens, without the token (it is stored nowhere)."""

    id = serializers.UUIDField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField()
    current = serializers.BooleanField(help_text="Whether this request authenticated with it.")


# --- Views --------------------------------------------------------------------

_SEARCH = OpenApiParameter("search", str, description="Part of a username, any case; names starting with it first.")


_EXPORT = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "A download (`Content-Disposition: attachment`): `account_id`, `exported_at`, `profile` (id, username, "
        "email, date_joined, is_active, is_staff), `following`, `followers` and `blocking` (other accounts by "
        "`account_id` with `since`: their usernames are their own data), `orders` (status, placed_at, changes "
        "with dates, items, total), and `events`: the stored events of the account's own commands and those "
        "holding its data (type, version, occurred_at, event_id, correlation_id, payload in clear; "
        "placeholders once forgotten; another person's data withheld)."
    ),
)


def _export_answer(account_id) -> Response:
    """The export of ``account_id`` as a JSON download nobody caches."""
    document = access.export(account_id)
    return Response(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="personal-data-{account_id}.json"',
            "Cache-Control": "no-store",
        },
    )


class AccountViewSet(ApiViewSet):
    """People and the social graph between them."""

    lookup_value_converter = "uuid"
    inputs = {"create": RegistrationInput, "forget": ForgetInput, "verify_email": VerificationInput}

    def get_permissions(self):
        if self.action in ("create", "verify_email"):
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_throttles(self):
        throttles = {"create": RegistrationThrottle, "resend_verification": VerificationMailThrottle}
        return [throttles[self.action]()] if self.action in throttles else []

    @extend_schema(parameters=[_SEARCH], responses={200: AccountOutput(many=True), **errors(400)})
    def list(self, request):
        """Search the directory by username: active accounts (staff see deactivated ones too)."""
        query = validated(SearchInput, request.query_params)
        search = queries.search_accounts if request.user.is_staff else queries.directory
        page = self.paginate_queryset(search(query.get("search", "")))
        return self.get_paginated_response(self._accounts(page))

    @extend_schema(
        responses={
            202: AcceptedOutput,
            **errors(400, refusals=[AccountRefusal.USERNAME_TAKEN, AccountRefusal.WEAK_PASSWORD]),
        },
    )
    def create(self, request):
        """Sign up (anyone; throttled per client address). The answer is 202
        and the same whether the e-mail is new or in use, so it tells nobody
        who has an account: a new address gets a link that verifies it
        (``accounts/verify-email/``), an address in use gets a mail telling
        its owner someone tried. A taken username is said (409
        ``username_taken``): usernames are public. The new account can get a
        token at once, and places orders once its address is verified."""
        data = self.validated_body()
        command = RegisterAccount(email=data["email"], username=data["username"], password=data["password"])
        return execute(request, command, render=lambda result: Response({"detail": SIGN_UP_ACCEPTED}, 202))

    @extend_schema(responses={200: AccountOutput, **errors(400)})
    @action(detail=False, methods=["post"], url_path="verify-email", url_name="verify-email")
    def verify_email(self, request):
        """Verify an account's address with the token of the link mailed to
        it (anyone holding it: the token is the proof). Verifying again
        answers the same. A forged, expired or outdated token is 400."""
        account = self.validated_body()["token"]
        command = VerifyEmail(account_id=account.pk, actor_id=account.pk)
        return execute(request, command, render=lambda result: Response(self._account(account.pk, own=True)))

    @extend_schema(request=None, responses={202: AcceptedOutput, **errors(429)})
    @action(detail=False, methods=["post"], url_path="me/verification", url_name="me-verification")
    def resend_verification(self, request):
        """Mail the signed-in account another verification link (none once
        verified). Throttled per person (``THROTTLE_RATE_VERIFICATION``)."""
        command = ResendVerificationLink(account_id=request.user.pk)
        detail = "If the address still needs verifying, a new link is on its way to it."
        return execute(request, command, render=lambda result: Response({"detail": detail}, 202))

    @extend_schema(responses={200: AccountOutput, **errors(404)})
    def retrieve(self, request, pk):
        """One account."""
        return Response(self._account(pk))

    @extend_schema(responses={200: AccountOutput})
    @action(detail=False)
    def me(self, request):
        """The signed-in account, with its e-mail."""
        return Response(self._account(request.user.pk))

    @extend_schema(request=None, responses={200: AccountOutput})
    @action(detail=False, methods=["post"], url_path="me/deactivate")
    def deactivate(self, request):
        """Deactivate the signed-in account: its token and session stop
        authenticating, and its follows in and out go. Up to a few hundred
        follows are gone when the answer arrives; beyond that they are
        removed in batches that settle moments after it (the counts of the
        other accounts move as each batch lands)."""
        command = DeactivateAccount(account_id=request.user.pk)
        return execute(request, command, render=lambda result: Response(self._account(request.user.pk, own=True)))

    @extend_schema(responses={200: AccountOutput, **errors(400, 429)})
    @action(detail=False, methods=["post"], url_path="me/forget")
    def forget(self, request):
        """Forget the signed-in account, after its password is given again:
        it is deactivated (as ``me/deactivate``), and its e-mail and username
        are replaced by placeholders in the account and everywhere they were
        copied. It cannot be undone."""
        self.validated_body()
        command = ForgetAccount(account_id=request.user.pk)
        return execute(request, command, render=lambda result: Response(self._account(request.user.pk, own=True)))

    @extend_schema(responses={200: _EXPORT})
    @action(detail=False, url_path="me/export", url_name="me-export")
    def export_me(self, request):
        """Everything the product holds about you, as one JSON document to
        download (the right of access)."""
        return _export_answer(request.user.pk)

    @extend_schema(responses={200: _EXPORT, **errors(404)})
    @action(detail=True)
    def export(self, request, pk):
        """Everything the product holds about an account, as one JSON
        document to download: staff for anyone, others for themselves only
        (another's answers 404, as if there were no such account)."""
        if not (request.user.is_staff or request.user.pk == pk) or not queries.account_exists(pk):
            raise NotFound("No such account.")
        return _export_answer(pk)

    @extend_schema(
        request=None,
        responses={
            201: RelationshipOutput,
            200: RelationshipOutput,
            **errors(
                404,
                refusals=[
                    AccountRefusal.CANNOT_FOLLOW_SELF,
                    AccountRefusal.BLOCKED,
                    AccountRefusal.ACCOUNT_INACTIVE,
                    AccountRefusal.FOLLOW_LIMIT_REACHED,
                ],
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def follow(self, request, pk):
        """Follow an account: 201 when the follow is new, 200 when it was there."""
        return self._relate(request, pk, FollowAccount(follower_id=request.user.pk, followee_id=pk), created=201)

    @extend_schema(request=None, responses={200: RelationshipOutput, **errors(404)})
    @action(detail=True, methods=["post"])
    def unfollow(self, request, pk):
        """Stop following an account (200 whether or not you were)."""
        return self._relate(request, pk, UnfollowAccount(follower_id=request.user.pk, followee_id=pk))

    @extend_schema(request=None, responses={200: RelationshipOutput, **errors(404)})
    @action(detail=True, methods=["post"], url_path="remove-follower")
    def remove_follower(self, request, pk):
        """Make an account stop following you (200 whether or not it did)."""
        return self._relate(request, pk, RemoveFollower(account_id=request.user.pk, follower_id=pk))

    @extend_schema(
        request=None,
        responses={
            201: RelationshipOutput,
            200: RelationshipOutput,
            **errors(404, refusals=[AccountRefusal.CANNOT_BLOCK_SELF]),
        },
    )
    @action(detail=True, methods=["post"])
    def block(self, request, pk):
        """Block an account; the follows between you end. 201 when new, 200 when it was there."""
        return self._relate(request, pk, BlockAccount(blocker_id=request.user.pk, blocked_id=pk), created=201)

    @extend_schema(request=None, responses={200: RelationshipOutput, **errors(404)})
    @action(detail=True, methods=["post"])
    def unblock(self, request, pk):
        """Lift a block (200 whether or not there was one)."""
        return self._relate(request, pk, UnblockAccount(blocker_id=request.user.pk, blocked_id=pk))

    @extend_schema(responses={200: AccountOutput(many=True), **errors(404)})
    @action(detail=True)
    def followers(self, request, pk):
        """The accounts following this one, by username."""
        return self._page(pk, queries.followers_of)

    @extend_schema(responses={200: AccountOutput(many=True), **errors(404)})
    @action(detail=True)
    def following(self, request, pk):
        """The accounts this one follows, by username."""
        return self._page(pk, queries.followed_by)

    @extend_schema(responses={200: RelationshipOutput, **errors(404)})
    @action(detail=True)
    def relationship(self, request, pk):
        """How you stand towards this account."""
        relationship = queries.relationship(request.user.pk, pk)
        if relationship is None:
            raise NotFound("No such account.")
        return Response(RelationshipOutput(relationship).data)

    def _relate(self, request, pk, command, *, created: int = 200) -> Response:
        def render(result):
            relationship = queries.relationship(request.user.pk, pk)
            return Response(RelationshipOutput(relationship).data, status=created if result.events else 200)

        return execute(request, command, render=render)

    def _page(self, pk, accounts_of) -> Response:
        if not queries.account_exists(pk):
            raise NotFound("No such account.")
        return self.get_paginated_response(self._accounts(self.paginate_queryset(accounts_of(pk))))

    def _account(self, account_id, *, own: bool = False) -> dict:
        account = queries.account(account_id)
        if account is None:
            raise NotFound("No such account.")
        return AccountOutput(account, context={"viewer": self.request.user, "own": own}).data

    def _accounts(self, accounts) -> list:
        return AccountOutput(accounts, many=True, context={"viewer": self.request.user}).data


@extend_schema_view(post=extend_schema(request=SignInInput, responses={200: TokenOutput, **errors(400)}))
class TokenView(ObtainAuthToken):
    """Exchange a username and password for a new API token
    (``Authorization: Token <token>`` or ``Bearer <token>``), one per device
    or script: it expires after ``API_TOKEN_TTL_DAYS`` and can be revoked at
    ``auth/tokens/``. Throttled per client address, and under the sign-in
    limits. The body is JSON or a form (what DRF's own clients and a
    browser's form send), and a browser gets a sign-in form.

    The token is shown this once and stored only as its SHA-512 digest; no
    answer is kept for an ``Idempotency-Key``: it is a credential.
    """

    serializer_class = SignInInput
    parser_classes = [JSONParser, parsers.FormParser, parsers.MultiPartParser]
    renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES
    throttle_classes = [SignInThrottle]

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = tokens.issue(serializer.validated_data["user"])
        return Response(TokenOutput({"token": key, "id": token.id, "expiry": token.expiry}).data)


class TokenListView(APIView):
    """The signed-in person's API tokens: list them, or revoke them all
    ("sign out everywhere")."""

    @extend_schema(responses={200: TokenListOutput(many=True)})
    def get(self, request):
        """The tokens that still authenticate, newest first."""
        current = getattr(request.auth, "id", None)
        listed = [
            {"id": token.id, "created": token.created, "expiry": token.expiry, "current": token.id == current}
            for token in tokens.live(request.user.pk)
        ]
        return Response(TokenListOutput(listed, many=True).data)

    @extend_schema(operation_id="auth_tokens_revoke_all", request=None, responses={204: None})
    def delete(self, request):
        """Revoke every token of yours, the one of this request included."""
        tokens.revoke_all(request.user.pk)
        return Response(status=204)


class TokenDetailView(APIView):
    """One of the signed-in person's tokens."""

    @extend_schema(operation_id="auth_tokens_revoke", request=None, responses={204: None, **errors(404)})
    def delete(self, request, token_id):
        """Revoke it: it authenticates nobody from now on. Another person's
        token answers 404, as if there were none."""
        if not tokens.revoke(request.user.pk, token_id):
            raise NotFound("No such token.")
        return Response(status=204)


router = SimpleRouter(use_regex_path=False)
router.register("accounts", AccountViewSet, basename="account")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", TokenListView.as_view(), name="auth-token-list"),
    path("auth/tokens/<uuid:token_id>/", TokenDetailView.as_view(), name="auth-token-detail"),
    *router.urls,
]
