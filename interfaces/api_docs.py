"""How a person finds the API: its interactive docs."""

from django.views import View
from drf_spectacular.views import SpectacularSwaggerView


class DocsView(SpectacularSwaggerView):
    """The interactive docs (Swagger UI), a page: ``OPTIONS`` answers the
    methods it allows, as any Django page does, for DRF's description of a
    view is data this page's template cannot render."""

    def options(self, request, *args, **kwargs):
        return View.options(self, request, *args, **kwargs)
