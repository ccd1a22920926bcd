"""How a person finds the API: its root and its interactive docs."""

from django.utils import translation
from django.views import View
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import permissions, routers
from rest_framework.response import Response


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


# The schema as built, by API version and language: the code does not change
# while the process runs, and the schema shows every caller the same API.
_built: dict[tuple[str | None, str | None], dict] = {}


class SchemaView(SpectacularAPIView):
    """``/api/v1/schema/``, built once per process (and version and
    language) rather than on every request: a build walks every view and
    serializer, 0.3 to 0.9 s of CPU, which anyone could ask for in a loop.
    The schema is public (``SERVE_PUBLIC``): it does not depend on who asks."""

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, translation.get_language())
        if key not in _built:
            generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
            _built[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=_built[key],
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'},
        )
