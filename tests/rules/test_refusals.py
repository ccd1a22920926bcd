"""Refusal codes: each declared once, with its status and message, and known
to the registry; nothing refuses with a code nobody declared."""

import ast
from pathlib import Path

import pytest

from accounts.events import FollowRejected
from accounts.refusals import AccountRefusal
from messaging.refusals import Refusal
from messaging.registry import Registry, RegistryError, registry

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("accounts", "catalog", "orders", "messaging", "config")


def _declarations(base: type[Refusal] = Refusal) -> list[type[Refusal]]:
    """Every subclass of ``Refusal`` the product defines (tests' own left out)."""
    found = []
    for declaration in base.__subclasses__():
        if declaration.__module__.split(".")[0] in PRODUCT:
            found.append(declaration)
        found.extend(_declarations(declaration))
    return found


def test_every_declared_code_is_registered_through_its_apps_wiring():
    # given every declaration the product defines
    declared = {code.value: code for declaration in _declarations() for code in declaration}

    # then the registry holds exactly those, each as its own declaration
    assert declared == registry.refusals
    assert {"account_not_found", "insufficient_stock", "book_not_found", "policy_only"} <= set(declared)


@pytest.mark.parametrize("code", sorted(registry.refusals.values()), ids=str)
def test_every_code_has_a_status_and_a_message(code):
    assert code.status in range(400, 500)
    assert code.message.strip() and code.message.endswith(".")
    assert code.page_message is None or code.page_message.strip()


def test_a_code_declared_by_two_contexts_is_refused_at_registration():
    # given a second declaration of a code accounts already declares
    class Elsewhere(Refusal):
        BLOCKED = "blocked", 403, "Somebody else's blocked."

    wiring = Registry()
    wiring.register_refusals(AccountRefusal)

    # when it is registered, then it is an error naming both
    twice = "'blocked' is declared twice: AccountRefusal.BLOCKED and Elsewhere.BLOCKED"
    with pytest.raises(RegistryError, match=twice):
        wiring.register_refusals(Elsewhere)


def test_a_code_declared_twice_in_one_declaration_is_refused_at_registration():
    # given a declaration whose second member repeats the first's code (an Enum alias)
    class Repeated(Refusal):
        FIRST = "first", 409, "First."
        AGAIN = "first", 400, "Again."

    # when it is registered, then it is an error
    with pytest.raises(RegistryError, match="Repeated.AGAIN repeats the code 'first' of FIRST"):
        Registry().register_refusals(Repeated)


def test_registering_the_same_declaration_again_changes_nothing():
    wiring = Registry()

    wiring.register_refusals(AccountRefusal)
    wiring.register_refusals(AccountRefusal)

    assert wiring.refusal("blocked") is AccountRefusal.BLOCKED


def test_an_undeclared_code_has_no_status():
    with pytest.raises(RegistryError, match="no context declares the refusal code 'changed_my_mind'"):
        registry.refusal("changed_my_mind")


def test_refusing_takes_a_declared_code_and_its_message_by_default():
    # when a handler refuses with a declared code and no reason
    refused = FollowRejected.refuse(AccountRefusal.CANNOT_FOLLOW_SELF)

    # then the rejection carries the code and the declared message
    assert (refused.rejection.code, refused.rejection.reason) == ("cannot_follow_self", "You cannot follow yourself.")


def test_refusing_with_a_bare_string_is_a_programming_error():
    with pytest.raises(TypeError, match="declared Refusal"):
        FollowRejected.refuse("blocked", "There is a block between you.")


def test_no_handler_refuses_with_a_code_typed_by_hand():
    # given every call to ``refuse`` in the product's code
    calls = [
        (path, node)
        for app in PRODUCT
        for path in (ROOT / app).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "refuse"
    ]

    # then none passes its code as a literal string
    assert calls
    typed = [path.relative_to(ROOT) for path, node in calls if isinstance(node.args[0], ast.Constant)]
    assert typed == []
