"""What the accounts context refuses, each code declared once with its status.

``ACCOUNT_NOT_FOUND`` and ``ACCOUNT_INACTIVE`` are also what other contexts
say of an account they were given (an order's customer): they import them
from here.
"""

from messaging.refusals import Refusal


class AccountRefusal(Refusal):
    ACCOUNT_NOT_FOUND = "account_not_found", 404, "No such account.", "That account does not exist."
    ACCOUNT_INACTIVE = "account_inactive", 409, "That account is deactivated."
    ACCOUNT_ALREADY_EXISTS = "account_already_exists", 409, "That e-mail or username is already taken."
    USERNAME_TAKEN = "username_taken", 409, "That username is taken: choose another."
    EMAIL_NOT_VERIFIED = (
        "email_not_verified",
        403,
        "Verify your e-mail address first: follow the link we mailed you.",
    )
    WEAK_PASSWORD = "weak_password", 400, "That password is too weak."
    CANNOT_FOLLOW_SELF = "cannot_follow_self", 409, "You cannot follow yourself."
    CANNOT_BLOCK_SELF = "cannot_block_self", 409, "You cannot block yourself."
    BLOCKED = "blocked", 409, "There is a block between you."
    FOLLOW_LIMIT_REACHED = "follow_limit_reached", 409, "You follow as many accounts as anyone may."
