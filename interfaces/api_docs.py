"""How a person finds the API: its root and its interactive docs."""

from django.views import View
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import permissions, routers


class DocsView(SpectacularSwaggerSplitView):
    """The interactive docs (Swagger UI), a page: ``OPTIONS`` answers the
    methods it allows, as any Django page does, for DRF's description of a
    view is data this page's template cannot render. Its setup script comes
    from the same URL (``?script=``) rather than inline, so the
    Content-Security-Policy (``SECURE_CSP``) need allow no inline script."""

    def options(self, request, *args, **kwargs):
        return View.options(self, request, *args, **kwargs)


class ApiRootView(routers.APIRootView):
    """``/api/v1/``: a link to each resource, the token endpoint, the schema
    and the docs (``api_root_dict``: name to URL name), open to anyone."""

    permission_classes = [permissions.AllowAny]
