"""The JSON parser and the pagination every API view uses.

Named in ``REST_FRAMEWORK`` and loaded while DRF itself is being imported,
so this module must not import ``rest_framework.views`` (``interfaces.errors``
does).
"""

from rest_framework import exceptions, parsers
from rest_framework.pagination import PageNumberPagination


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also answering 400 to a body nested deeper than
    Python's json module can follow (it raises ``RecursionError``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


class Pagination(PageNumberPagination):
    """``{count, next, previous, results}``, ``page_size`` up to 100."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
