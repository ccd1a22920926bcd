"""Clients and data builders for the query-count tests; the API's own
fixtures (``signed_in``, ``alice``, ``staff``) are shared (fresh limits
come from the root conftest)."""

from tests.interface.api.conftest import alice, anonymous, bob, signed_in, staff  # noqa: F401
