"""Clients and data builders for the query-count tests; the API's own
fixtures (``signed_in``, ``alice``, ``staff``, fresh throttles) are shared."""

from tests.api.conftest import alice, anonymous, bob, fresh_throttles, signed_in, staff  # noqa: F401
