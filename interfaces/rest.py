"""The JSON parser, the pagination, the renderers' browsable pages and the
``OPTIONS`` description every API view uses.

Named in ``REST_FRAMEWORK`` and loaded while DRF itself is being imported,
so this module must not import ``rest_framework.views`` (``interfaces.errors``
does).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, metadata, parsers, renderers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import override_method


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


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's pages for a browser, drawing a filter form only for a view with
    filter backends: DRF asks every list view for its ``get_queryset()``
    first, and ours read through their context's ``queries`` instead."""

    def get_filter_form(self, data, view, request):
        if not getattr(view, "filter_backends", None):
            return None
        return super().get_filter_form(data, view, request)


class Metadata(metadata.SimpleMetadata):
    """DRF's description of a view for ``OPTIONS``, each method described as
    the action it runs (``view.action`` set while its permissions are checked
    and its input serializer built, as the browsable API does): an ``OPTIONS``
    request has no action of its own, so a viewset whose permissions and
    input depend on the action would be described wrongly, or not at all."""

    def determine_actions(self, request, view):
        actions = {}
        for method in sorted({"PUT", "POST"} & set(view.allowed_methods)):
            with override_method(view, request, method) as as_method:
                try:
                    view.check_permissions(as_method)
                    if method == "PUT" and hasattr(view, "get_object"):
                        view.get_object()
                except (exceptions.APIException, PermissionDenied, Http404):
                    continue
                actions[method] = self.get_serializer_info(view.get_serializer())
        return actions
